//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// quarantinedSample copies the sample project to a directory of the
// test's own and quarantines its failing and erroring tests until the
// given day, in the project's default quarantine file.
func quarantinedSample(t *testing.T, until string, extra string) string {
	t.Helper()
	project := filepath.Join(t.TempDir(), "sample")
	require.NoError(t, os.CopyFS(project, os.DirFS(Testdata("sample"))))
	var b strings.Builder
	b.WriteString("quarantine:\n")
	for i, id := range sampleFailed {
		fmt.Fprintf(&b, "  - test: %q\n    until: %s\n    reason: \"known bug #%d\"\n    owner: \"@alice\"\n", id, until, i+1)
	}
	b.WriteString(extra)
	require.NoError(t, os.MkdirAll(filepath.Join(project, ".k8s-testrun"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(project, ".k8s-testrun", "quarantine.yaml"), []byte(b.String()), 0o644))
	return project
}

// TestQuarantine runs the sample, whose failing and erroring tests are all
// quarantined: until a future date the run passes and reports them
// quarantined, in the CLI's JSON and summary, the JUnit report, the job
// summary and the check run's warnings; dated yesterday, the entries
// protect nothing, the run fails and each expired entry gets a warning. An
// entry that names no collected test stops the run with exit code 2 before
// any test pod.
func TestQuarantine(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-quarantine")
	ctx := Context(t, 20*time.Minute)
	future := time.Now().UTC().AddDate(0, 1, 0).Format("2006-01-02")
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")

	t.Run("cli until a future date", func(t *testing.T) {
		project := quarantinedSample(t, future, "")
		report := filepath.Join(t.TempDir(), "junit.xml")
		res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--output", "json"), project)...)
		assert.Equal(t, 0, res.Exit, "quarantined failures do not fail the run: %s", res.Stderr)
		c.RequireNoRunPods(t, ns)

		var finished map[string]any
		for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
			var e map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &e), l)
			if e["event"] == "run_finished" {
				finished = e
			}
		}
		require.NotNil(t, finished, res.Stdout)
		assert.EqualValues(t, 3, finished["quarantined"])
		assert.EqualValues(t, 0, finished["failed"])
		assert.EqualValues(t, 0, finished["errors"])
		assert.EqualValues(t, 0, finished["exit_code"])
		assert.ElementsMatch(t, sampleFailed, finished["quarantined_tests"])

		// The terminal summary (on stderr beside JSON events).
		assert.Contains(t, res.Stderr, "quarantined (their failures do not fail the run)")
		assert.Contains(t, res.Stderr, "    quarantined: known bug #1 (until "+future+", owner @alice)\n")
		assert.Contains(t, res.Stderr, " 3 quarantined in ")
		assert.NotContains(t, res.Stderr, "expired")

		got := reportTestIDs(t, readReport(t, report))
		require.Len(t, got, 12)
		for i, id := range sampleFailed {
			tc := got[id]
			assert.True(t, tc.Failure != nil || tc.Error != nil, "%s is still failed in JUnit", id)
			assert.Contains(t, tc.Properties, junit.Property{Name: "k8s-testrun.quarantined", Value: fmt.Sprintf("known bug #%d (until %s, owner @alice)", i+1, future)}, id)
		}
	})

	t.Run("action until a future date", func(t *testing.T) {
		project := quarantinedSample(t, future, "")
		api, srv := newChecksAPI(t, false)
		s := c.actionStep(t, srv.URL, ns, project, nil)
		res := c.RunCLI(ctx, t, s.env)
		assert.Equal(t, 0, res.Exit, "fail_on: failures ignores quarantined failures")
		c.RequireNoRunPods(t, ns)

		summary, err := os.ReadFile(s.summary)
		require.NoError(t, err)
		for _, want := range []string{"### ✅ k8s-testrun: ", "| ❌ Failed | 0 |", "| 💥 Errors | 0 |", "| 🔒 Quarantined | 3 |", "#### Quarantined (3)",
			"`known bug #1 (until " + future + ", owner @alice)`"} {
			assert.Contains(t, string(summary), want)
		}
		assert.NotContains(t, string(summary), "#### Failures and errors")
		// The timeline's bars start at or after the first pod.
		assert.Contains(t, string(summary), "```mermaid\ngantt\n")
		assert.NotRegexp(t, `(?m)^    \w+ :(\w+, )?-\d`, string(summary))

		reqs := api.Got()
		require.GreaterOrEqual(t, len(reqs), 3)
		var levels []string
		for _, r := range reqs[1 : len(reqs)-1] {
			for _, a := range r.Body["output"].(map[string]any)["annotations"].([]any) {
				an := a.(map[string]any)
				levels = append(levels, an["annotation_level"].(string))
				assert.True(t, strings.HasPrefix(an["title"].(string), "QUARANTINED "), an["title"])
			}
		}
		assert.Equal(t, []string{"warning", "warning", "warning"}, levels)
		done := reqs[len(reqs)-1]
		assert.Equal(t, "success", done.Body["conclusion"])
		assert.Contains(t, done.Body["output"].(map[string]any)["title"], "3 quarantined")
	})

	t.Run("action dated yesterday", func(t *testing.T) {
		project := quarantinedSample(t, yesterday, "")
		api, srv := newChecksAPI(t, false)
		s := c.actionStep(t, srv.URL, ns, project, nil)
		res := c.RunCLI(ctx, t, s.env)
		assert.Equal(t, 1, res.Exit, "expired entries protect nothing")
		c.RequireNoRunPods(t, ns)

		outside, _ := unfenced(t, res.Stdout)
		var warnings []string
		for _, l := range outside {
			if strings.HasPrefix(l, "::warning::") && strings.Contains(l, "quarantine expired after "+yesterday) {
				warnings = append(warnings, l)
			}
		}
		assert.Len(t, warnings, 3, "one warning annotation per expired entry:\n%s", res.Stdout)

		summary, err := os.ReadFile(s.summary)
		require.NoError(t, err)
		assert.Contains(t, string(summary), "### ❌ k8s-testrun: ")
		assert.NotContains(t, string(summary), "🔒 Quarantined")
		assert.Contains(t, string(summary), "quarantine expired after "+yesterday)

		reqs := api.Got()
		require.GreaterOrEqual(t, len(reqs), 3)
		n := 0
		for _, r := range reqs[1 : len(reqs)-1] {
			for _, a := range r.Body["output"].(map[string]any)["annotations"].([]any) {
				assert.Equal(t, "failure", a.(map[string]any)["annotation_level"])
				n++
			}
		}
		assert.Equal(t, 3, n)
		assert.Equal(t, "failure", reqs[len(reqs)-1].Body["conclusion"])
	})

	t.Run("cli dated yesterday", func(t *testing.T) {
		project := quarantinedSample(t, yesterday, "")
		res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, filepath.Join(t.TempDir(), "junit.xml")), project)...)
		assert.Equal(t, 1, res.Exit)
		assert.Contains(t, res.Stdout, "2 failed")
		assert.Equal(t, 3, strings.Count(res.Stderr, "k8s-testrun: warning: "+filepath.Join(project, ".k8s-testrun", "quarantine.yaml")+": entry "), res.Stderr)
		c.RequireNoRunPods(t, ns)
	})

	t.Run("a pattern that matches nothing", func(t *testing.T) {
		project := quarantinedSample(t, future, "  - test: \"tests/test_gone.py::*\"\n    until: "+future+"\n    reason: gone\n")
		pods := c.recordTestPods(ctx, t, ns)
		res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, filepath.Join(t.TempDir(), "junit.xml")), project)...)
		assert.Equal(t, 2, res.Exit)
		assert.Contains(t, res.Stderr, `quarantine: `+filepath.Join(project, ".k8s-testrun", "quarantine.yaml")+`: entry 4 (test "tests/test_gone.py::*"): matches no collected test; fix the test id or pattern, or remove the entry`)
		n, _ := pods.ran()
		assert.Zero(t, n, "no test pod was created")
		c.RequireNoRunPods(t, ns)
	})
}
