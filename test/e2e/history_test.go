//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// gitRepo copies the sample project into a throwaway git repository and
// commits it; git runs it returns the command's trimmed output.
func gitRepo(t *testing.T) (dir string, git func(args ...string) string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "sample")
	require.NoError(t, os.CopyFS(dir, os.DirFS(Testdata("sample"))))
	git = func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
			"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "sample")
	return dir, git
}

// runFinished is the run_finished event of a run's --output json.
func runFinished(t *testing.T, stdout string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &e), l)
		if e["event"] == "run_finished" {
			return e
		}
	}
	t.Fatalf("no run_finished event in:\n%s", stdout)
	return nil
}

const (
	nowFailing = "tests/test_basic.py::test_passes"
	nowFixed   = "tests/test_basic.py::test_fails_with_message"
)

// TestHistoryComparesWithTheBase runs the sample in a git repository with
// --history (and --coverage, which gives each test its footprint), then
// makes one failing test pass and one passing test fail, commits, and
// runs again with --compare-to the first commit: exactly one new failure
// and one fixed test, in the terminal summary and the JSON events; then
// the action, against the recording GitHub API, says the same in the job
// summary and marks the new failure's annotation, and one more run with
// fail_on new-failures fails the step only for that new failure.
// --affected-since the first commit runs only the tests the change can
// affect.
func TestHistoryComparesWithTheBase(t *testing.T) {
	env, _ := noHostCoverage(t)
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-history")
	ctx := Context(t, 25*time.Minute)
	base := c.debBase(t, "python3-coverage", "python-coverage")
	project, git := gitRepo(t)
	first := git("rev-parse", "HEAD")
	hist := filepath.Join(t.TempDir(), "history")

	res := c.RunCLI(ctx, t, env, append(c.runArgs(t, ns, filepath.Join(t.TempDir(), "junit.xml"), "--base-image", base,
		"--history", hist, "--coverage", "--output", "json"), project)...)
	require.Equal(t, 1, res.Exit, "the sample has failures: %s", res.Stderr)
	assert.Contains(t, res.Stderr, "history: no earlier run of", "one line says there is no base:\n%s", res.Stderr)
	assert.NotContains(t, runFinished(t, res.Stdout), "comparison")
	c.RequireNoRunPods(t, ns)

	rec, ok, err := loadHistoryRecord(history.Store{Dir: hist}, first)
	require.NoError(t, err)
	require.True(t, ok, "the first commit is recorded")
	assert.Equal(t, "main", rec.Branch)
	assert.Equal(t, history.VerdictPassed, rec.Tests[nowFailing].Verdict)
	assert.Equal(t, history.VerdictFailed, rec.Tests[nowFixed].Verdict)
	src, err := os.ReadFile(filepath.Join(project, "tests", "test_basic.py"))
	require.NoError(t, err)
	sum := sha256.Sum256(src)
	assert.Equal(t, hex.EncodeToString(sum[:]), rec.Footprints[nowFailing]["tests/test_basic.py"],
		"the test's footprint holds its own file and its hash:\n%v", rec.Footprints)

	// One passing test fails, one failing test passes.
	text := strings.Replace(string(src), "assert 1 + 1 == 2", "assert 1 + 1 == 3", 1)
	text = strings.Replace(text, "assert value == 3,", "assert value == 1,", 1)
	require.NotEqual(t, string(src), text)
	require.NoError(t, os.WriteFile(filepath.Join(project, "tests", "test_basic.py"), []byte(text), 0o644))
	git("commit", "-q", "-am", "swap")
	second := git("rev-parse", "HEAD")

	res = c.RunCLI(ctx, t, env, append(c.runArgs(t, ns, filepath.Join(t.TempDir(), "junit.xml"), "--base-image", base,
		"--history", hist, "--compare-to", first, "--output", "json"), project)...)
	require.Equal(t, 1, res.Exit, "the exit code is unchanged: %s", res.Stderr)
	c.RequireNoRunPods(t, ns)
	cmp, ok := runFinished(t, res.Stdout)["comparison"].(map[string]any)
	require.True(t, ok, res.Stdout)
	assert.Equal(t, first, cmp["base"])
	assert.Equal(t, []any{nowFailing}, cmp["new_failures"])
	assert.Equal(t, []any{nowFixed}, cmp["fixed"])
	assert.Len(t, cmp["still_failing"], 2)
	assert.Empty(t, cmp["new_tests"])
	assert.Empty(t, cmp["removed_tests"])
	assert.Contains(t, res.Stderr, "Compared with "+first[:12]+" (main): 1 new failures, 1 fixed, 2 still failing")
	assert.Equal(t, 1, strings.Count(res.Stderr, "  NEW FAILURE "), res.Stderr)
	assert.Contains(t, res.Stderr, "  NEW FAILURE "+nowFailing+"\n")
	assert.Contains(t, res.Stderr, "  FIXED "+nowFixed+"\n")
	_, ok, err = loadHistoryRecord(history.Store{Dir: hist}, second)
	require.NoError(t, err)
	assert.True(t, ok, "the second commit is recorded")

	t.Run("affected since", func(t *testing.T) {
		// Only tests/test_basic.py changed since the first commit: of the
		// tests that passed there, the two of test_classes.py, whose
		// footprints do not hold it, are left out.
		report := filepath.Join(t.TempDir(), "junit.xml")
		res := c.RunCLI(ctx, t, env, append(c.runArgs(t, ns, report, "--base-image", base,
			"--history", hist, "--affected-since", first, "--output", "json"), project)...)
		require.Equal(t, 1, res.Exit, "the failures still fail: %s", res.Stderr)
		c.RequireNoRunPods(t, ns)
		assert.EqualValues(t, 2, runFinished(t, res.Stdout)["not_affected"], res.Stdout)
		assert.Contains(t, res.Stderr, "2 tests were not affected by the change since "+first[:12])
		assert.Contains(t, res.Stderr, ", 2 not affected in ", "a count of their own in the closing line")
		assert.EqualValues(t, 2, runFinished(t, res.Stdout)["skipped"], res.Stdout)
		got := reportTestIDs(t, readReport(t, report))
		require.Len(t, got, 12)
		var left []string
		for id, tc := range got {
			if tc.Skipped != nil && strings.HasPrefix(tc.Skipped.Message, "not affected since ") {
				left = append(left, id)
				assert.Equal(t, "not affected since "+first[:12]+": last passed at "+first[:12], tc.Skipped.Message)
				assert.Contains(t, tc.Properties, junit.Property{Name: junit.PropertyNotAffected, Value: first})
			}
		}
		assert.ElementsMatch(t, []string{"tests/test_classes.py::TestArithmetic::test_add", "tests/test_classes.py::test_writes_artifact"}, left)
	})

	t.Run("action", func(t *testing.T) {
		api, srv := newChecksAPI(t, false)
		s := c.actionStep(t, srv.URL, ns, project, map[string]string{"base_image": base, "history_path": hist, "compare_to": first})
		res := c.RunCLI(ctx, t, s.env)
		assert.Equal(t, 1, res.Exit, "fail_on failures is unchanged")
		c.RequireNoRunPods(t, ns)

		summary, err := os.ReadFile(s.summary)
		require.NoError(t, err)
		for _, want := range []string{"#### Compared with `" + first[:12] + "`", "| 🆕❌ New failures | 1 |", "| ✅ Fixed | 1 |",
			"**New failures:** `" + nowFailing + "`", "**Fixed:** `" + nowFixed + "`"} {
			assert.Contains(t, string(summary), want)
		}
		reqs := api.Got()
		require.GreaterOrEqual(t, len(reqs), 3)
		var newTitles, titles []string
		for _, r := range reqs[1 : len(reqs)-1] {
			for _, a := range r.Body["output"].(map[string]any)["annotations"].([]any) {
				title := a.(map[string]any)["title"].(string)
				titles = append(titles, title)
				if strings.HasPrefix(title, "NEW ") {
					newTitles = append(newTitles, title)
				}
			}
		}
		assert.Len(t, titles, 3, "%v", titles)
		assert.Equal(t, []string{"NEW FAILED " + nowFailing}, newTitles, "only the new failure is marked: %v", titles)
		assert.Equal(t, "failure", reqs[len(reqs)-1].Body["conclusion"])

		// Against the second commit, which failed the same way, nothing is
		// new: fail_on new-failures lets the step pass, as a neutral check.
		api, srv = newChecksAPI(t, false)
		s = c.actionStep(t, srv.URL, ns, project, map[string]string{"base_image": base, "history_path": hist, "compare_to": second, "fail_on": "new-failures"})
		res = c.RunCLI(ctx, t, s.env)
		assert.Equal(t, 0, res.Exit, "no new failure: %s", res.Stdout)
		c.RequireNoRunPods(t, ns)
		summary, err = os.ReadFile(s.summary)
		require.NoError(t, err)
		assert.Contains(t, string(summary), "| 🆕❌ New failures | 0 |")
		reqs = api.Got()
		require.GreaterOrEqual(t, len(reqs), 2)
		assert.Equal(t, "neutral", reqs[len(reqs)-1].Body["conclusion"])
	})
}

// loadHistoryRecord reads commit's record as a run finds it: resolved in
// the store's index, then read; ok is false when the store has none.
func loadHistoryRecord(s history.Store, commit string) (history.Record, bool, error) {
	e, ok, err := s.Resolve(commit, "")
	if err != nil || !ok {
		return history.Record{}, ok, err
	}
	return s.Read(e)
}
