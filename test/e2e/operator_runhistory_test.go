//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
)

// testRunHistory is testHistory from the command line: `run --mode
// operator --history-configmap` on the sample's first commit, in a
// throwaway git repository, sets the TestRun's spec.history to the
// checkout's commit and branch and prints the one line saying there is
// no base; after a commit where one passing test fails and one failing
// test passes, a run with --compare-to the first commit prints, in its
// terminal summary, exactly 1 new failure and 1 fixed test, from the
// operator's status.comparison; --fail-on new-failures fails on that new
// failure, and passes against a base that failed the same way.
func (e *opEnv) testRunHistory(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	project, git := gitRepo(t)
	first := git("rev-parse", "HEAD")
	const cm = "run-sample-history"
	run := func(extra ...string) CLIResult {
		args := e.c.runArgs(t, e.ns, filepath.Join(t.TempDir(), "junit.xml"), append([]string{"--mode", "operator", "--history-configmap", cm}, extra...)...)
		args = append(args, project, "--", nowFailing, nowFixed, "tests/test_classes.py::TestArithmetic::test_add")
		return e.c.RunCLI(ctx, t, nil, args...)
	}

	res := run()
	require.Equal(t, 1, res.Exit, "the sample's failing test fails: %s", res.Stderr)
	t.Logf("first run's summary:\n%s", res.Stdout)
	assert.Contains(t, res.Stdout, "history: no earlier run of branch main is recorded in configmap "+cm+"; nothing to compare with\n")
	assert.NotContains(t, res.Stdout, "Compared with")
	tr := e.latestRun(ctx, t, "sample-")
	require.NotNil(t, tr.Spec.History)
	assert.Equal(t, v1alpha1.HistorySpec{ConfigMap: cm, Commit: first, Branch: "main"}, *tr.Spec.History)
	e.c.RequireNoRunPods(t, e.ns)

	// One passing test fails, one failing test passes.
	src, err := os.ReadFile(filepath.Join(project, "tests", "test_basic.py"))
	require.NoError(t, err)
	text := strings.Replace(string(src), "assert 1 + 1 == 2", "assert 1 + 1 == 3", 1)
	text = strings.Replace(text, "assert value == 3,", "assert value == 1,", 1)
	require.NotEqual(t, string(src), text)
	require.NoError(t, os.WriteFile(filepath.Join(project, "tests", "test_basic.py"), []byte(text), 0o644))
	git("commit", "-q", "-am", "swap")
	second := git("rev-parse", "HEAD")

	res = run("--compare-to", first)
	require.Equal(t, 1, res.Exit, "the exit code is unchanged: %s", res.Stderr)
	t.Logf("second run's summary:\n%s", res.Stdout)
	assert.Contains(t, res.Stdout, "Compared with "+first[:12]+" (main): 1 new failures, 1 fixed, 0 still failing, 0 new flaky, 0 new tests, 0 removed, 0 slower\n")
	assert.Equal(t, 1, strings.Count(res.Stdout, "  NEW FAILURE "), res.Stdout)
	assert.Contains(t, res.Stdout, "  NEW FAILURE "+nowFailing+"\n")
	assert.NotContains(t, res.Stdout, "nothing to compare with")
	tr = e.latestRun(ctx, t, "sample-")
	require.NotNil(t, tr.Spec.History)
	assert.Equal(t, v1alpha1.HistorySpec{ConfigMap: cm, Commit: second, Branch: "main", CompareTo: first}, *tr.Spec.History)
	e.c.RequireNoRunPods(t, e.ns)

	// --fail-on new-failures reads the operator's comparison: the second
	// commit's failure is new against the first, and old against itself.
	res = run("--compare-to", first, "--fail-on", "new-failures")
	assert.Equal(t, 1, res.Exit, "a new failure fails the run: %s", res.Stderr)
	res = run("--compare-to", second, "--fail-on", "new-failures")
	assert.Equal(t, 0, res.Exit, "a failure the base had too passes: %s", res.Stderr)
	assert.Contains(t, res.Stdout, "Compared with "+second[:12]+" (main): 0 new failures, 0 fixed, 1 still failing")
	e.c.RequireNoRunPods(t, e.ns)
}
