package history

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func footprinted() Record {
	r := rec(0, "main",
		pass("tests/test_a.py::test_a", 0), pass("tests/test_b.py::test_b", 0), pass("tests/test_c.py::test_nofp", 0),
		fail("tests/test_d.py::test_failed"), pass("tests/test_e.py::test_flaky_lane", 0))
	r.Footprints = map[string]map[string]string{
		"tests/test_a.py::test_a":          {"tests/test_a.py": "1", "lib/a.py": "2"},
		"tests/test_b.py::test_b":          {"tests/test_b.py": "3", "lib/b.py": "4"},
		"tests/test_d.py::test_failed":     {"tests/test_d.py": "5"},
		"tests/test_e.py::test_flaky_lane": {"tests/test_e.py": "6"},
	}
	return r
}

var candidates = []Candidate{
	{ID: "tests/test_a.py::test_a"}, {ID: "tests/test_b.py::test_b"}, {ID: "tests/test_c.py::test_nofp"},
	{ID: "tests/test_d.py::test_failed"}, {ID: "tests/test_e.py::test_flaky_lane", Lane: "flaky"}, {ID: "tests/test_new.py::test_new"},
}

func TestAffectedRunsWhatAChangeTouches(t *testing.T) {
	sel := Affected([]string{"lib/a.py", "docs/index.md"}, footprinted(), candidates, nil)
	assert.Empty(t, sel.All)
	// test_a's footprint holds lib/a.py; no footprint, a failure on the
	// base, the flaky lane and a new test all run.
	assert.Equal(t, []string{"tests/test_b.py::test_b"}, sel.Skipped())
	assert.Equal(t, sha(0), sel.Skip["tests/test_b.py::test_b"])
	assert.Equal(t, "not affected since "+sha(0)[:12]+": last passed at "+sha(0)[:12], SkipMessage(sha(0), sha(0)))

	sel = Affected(nil, footprinted(), candidates, nil)
	assert.Equal(t, []string{"tests/test_a.py::test_a", "tests/test_b.py::test_b"}, sel.Skipped(), "nothing changed")
}

// TestAffectedRunsEverything: each change no footprint can see runs the
// whole suite, and so does a base without footprints.
func TestAffectedRunsEverything(t *testing.T) {
	for _, tt := range []struct {
		name, changed, want string
		reqs                []string
	}{
		{"conftest", "tests/conftest.py", "configures every test", nil},
		{"root conftest", "conftest.py", "configures every test", nil},
		{"pytest.ini", "pytest.ini", "configures every test", nil},
		{"tox.ini", "tox.ini", "configures every test", nil},
		{"setup.cfg", "setup.cfg", "configures every test", nil},
		{"pyproject", "pyproject.toml", "configures every test", nil},
		{"setup.py", "setup.py", "configures every test", nil},
		{"requirements", "requirements.txt", "the requirements", nil},
		{"named requirements", "deps/ci.lock", "the requirements", []string{"deps/ci.lock"}},
		{"data under a test directory", "tests/data/input.json", "other than Python under a test directory", nil},
		{"data in a test directory", "tests/fixture.json", "other than Python under a test directory", nil},
		{"documentation", "docs/index.md", "", nil},
		{"a file at the root", "README.md", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sel := Affected([]string{"lib/a.py", tt.changed}, footprinted(), candidates, tt.reqs)
			if tt.want == "" {
				assert.Empty(t, sel.All, "outside the test directories")
				return
			}
			assert.Contains(t, sel.All, tt.want)
			assert.Contains(t, sel.All, tt.changed)
			assert.Empty(t, sel.Skip)
		})
	}
	bare := footprinted()
	bare.Footprints = nil
	sel := Affected([]string{"lib/a.py"}, bare, candidates, nil)
	assert.Contains(t, sel.All, "has no footprints")
}

func TestChangedSinceACommit(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	repo := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command(git, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	write := func(name, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(repo, name), []byte(text), 0o644))
	}
	run("init", "-q")
	write("proj/lib/a.py", "a = 1\n")
	write("proj/lib/b.py", "b = 1\n")
	write("other/x.py", "x = 1\n")
	run("add", "-A")
	run("commit", "-q", "-m", "one")
	base, _, err := Head(context.Background(), git, repo)
	require.NoError(t, err)
	write("proj/lib/a.py", "a = 2\n")
	write("other/x.py", "x = 2\n")
	run("commit", "-q", "-am", "two")
	write("proj/lib/b.py", "b = 2\n") // not committed: the working tree counts

	got, err := Changed(context.Background(), git, filepath.Join(repo, "proj"), base)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"lib/a.py", "lib/b.py"}, got, "relative to the project, the working tree included")
	_, err = Changed(context.Background(), git, repo, "--output=/tmp/x")
	require.Error(t, err, "only a commit's name reaches git")
}
