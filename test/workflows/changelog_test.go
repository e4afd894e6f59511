package workflows

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

var changelogScript = filepath.Join(root, ".github", "scripts", "changelog-entry.sh")

// runChangelogCheck runs the release's CHANGELOG check on text for tag and
// returns its exit code and what it printed.
func runChangelogCheck(t *testing.T, tag, text string) (int, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "CHANGELOG.md")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	out, err := exec.Command("bash", changelogScript, tag, file).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

// TestChangelogEntryCheck: the release refuses a tag whose version has no
// section with text in CHANGELOG.md, and accepts one that has.
func TestChangelogEntryCheck(t *testing.T) {
	for _, c := range []struct {
		name, tag, text string
		ok              bool
	}{
		{"keep-a-changelog heading", "v1.2.3", "# Changelog\n\n## [1.2.3] - 2027-01-15\n\n- added x\n", true},
		{"plain heading", "v1.2.3", "## 1.2.3\n- fixed y\n", true},
		{"v heading", "v1.2.3", "## v1.2.3 - 2027-01-15\n- fixed y\n\n## [1.2.2]\n- z\n", true},
		{"only Unreleased", "v1.2.3", "## [Unreleased]\n\n- added x\n", false},
		{"another version", "v1.2.3", "## [1.2.4] - 2027-01-15\n- added x\n", false},
		{"a prefix of the version", "v1.2.3", "## [1.2.30] - 2027-01-15\n- added x\n", false},
		{"an empty section", "v1.2.3", "## [1.2.3] - 2027-01-15\n\n## [1.2.2]\n- x\n", false},
		{"not a version tag", "latest", "## [1.2.3]\n- x\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := runChangelogCheck(t, c.tag, c.text)
			if c.ok {
				assert.Equal(t, 0, code, out)
				assert.Empty(t, out)
				return
			}
			assert.Equal(t, 1, code, out)
			assert.Equal(t, 1, strings.Count(out, "\n"), "one line: %s", out)
			assert.Contains(t, out, "changelog: ")
		})
	}
}

// TestReleaseChecksTheChangelog: the release workflow runs the check on its
// tag before it builds anything.
func TestReleaseChecksTheChangelog(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "release.yml"))
	require.NoError(t, err)
	var w struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `json:"uses"`
				Run  string            `json:"run"`
				Env  map[string]string `json:"env"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &w))
	steps := w.Jobs["image"].Steps
	require.GreaterOrEqual(t, len(steps), 2)
	check := -1
	for i, s := range steps {
		if strings.Contains(s.Run, ".github/scripts/changelog-entry.sh") {
			check = i
			assert.Equal(t, "${{ github.ref_name }}", s.Env["TAG"])
			assert.Contains(t, s.Run, `"$TAG"`)
		}
	}
	require.GreaterOrEqual(t, check, 0, "release.yml runs the CHANGELOG check")
	for _, s := range steps[:check] {
		assert.True(t, strings.HasPrefix(s.Uses, "actions/checkout@"), "only the checkout runs before the check, not %q", s.Uses+s.Run)
	}
	info, err := os.Stat(changelogScript)
	require.NoError(t, err)
	assert.NotZero(t, info.Mode()&0o111, "the script is executable")
}
