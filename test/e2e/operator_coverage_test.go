//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
)

// testCoverage runs testdata/coverage through the operator with
// --coverage, one pod per test: the operator keeps each pod's data files
// in a ConfigMap of the run, and the CLI combines them as direct mode
// does (TestCoverage): coverage.xml beside the JUnit report with the same
// files, lines and executed lines as one plain coverage run, the total in
// the terminal summary, nothing run on the host, and, with --history,
// each test's footprint in the history directory; then a run with
// --affected-since that commit, after a change no footprint holds, which
// the operator leaves out (spec.affectedSince).
func (e *opEnv) testCoverage(t *testing.T) {
	env, marker := noHostCoverage(t)
	ctx := Context(t, 10*time.Minute)
	base := e.c.debBase(t, "python3-coverage", "python-coverage")
	project := filepath.Join(t.TempDir(), "coverage")
	require.NoError(t, os.CopyFS(project, os.DirFS(Testdata("coverage"))))
	commit := gitCommitAll(t, project)
	hist := filepath.Join(t.TempDir(), "history")
	out := t.TempDir()
	report := filepath.Join(out, "junit.xml")

	res := e.c.RunCLI(ctx, t, env, append(e.c.runArgs(t, e.ns, report, "--mode", "operator", "--base-image", base,
		"--coverage", "--history", hist), project)...)
	require.Equal(t, 0, res.Exit, "stderr:\n%s", res.Stderr)
	e.c.RequireNoRunPods(t, e.ns)
	requireNothingRanOnTheHost(t, marker)

	run := e.latestRun(ctx, t, "coverage-")
	assert.True(t, run.Spec.Coverage)
	cms := &corev1.ConfigMapList{}
	require.NoError(t, e.cr.List(ctx, cms, client.InNamespace(e.ns), client.MatchingLabels{k8s.LabelRun: run.Name, k8s.LabelRole: operator.RoleCoverage}))
	assert.Len(t, cms.Items, 2, "the operator kept the data of each test's pod")

	ts := readReport(t, report)
	pods := podsOf(t, ts)
	require.Len(t, pods, 2)
	assert.Equal(t, 2, distinct(pods), "each test in its own pod: %v", pods)

	f, err := os.Open(filepath.Join(out, coverage.ReportFile))
	require.NoError(t, err, "coverage.xml is beside the JUnit report")
	defer f.Close()
	ours, err := coverage.ParseReport(f)
	require.NoError(t, err)
	got := filesByName(ours)
	require.Contains(t, got, "calc.py", "files: %v", ours.Files)
	calc := got["calc.py"]
	assert.Equal(t, calc.Lines, calc.Covered, "both functions covered: line-rate 1.0 for calc.py (%v)", calc)
	assert.Contains(t, res.Stdout, "Coverage: "+ours.Total()+" of ", "the total in the terminal summary")

	plain := e.c.plainCoverageRun(t, e.ns, suiteProperty(ts, "k8s-testrun.image"))
	want := coverage.Summary{}
	for _, f := range plain.Files {
		if !strings.HasPrefix(f.Name, "/") {
			want.Files = append(want.Files, f)
		}
	}
	assert.Equal(t, filesByName(want), got, "the same files, lines and executed lines as one plain coverage run")

	rec, ok, err := loadHistoryRecord(history.Store{Dir: hist}, commit)
	require.NoError(t, err)
	require.True(t, ok, "the commit is recorded")
	src, err := os.ReadFile(filepath.Join(project, "calc.py"))
	require.NoError(t, err)
	sum := sha256.Sum256(src)
	require.Len(t, rec.Footprints, 2, "a footprint per test: %v", rec.Footprints)
	for id, fp := range rec.Footprints {
		assert.Equal(t, hex.EncodeToString(sum[:]), fp["calc.py"], "%s executed calc.py: %v", id, fp)
	}

	// A change no footprint holds: the operator leaves both tests out.
	require.NoError(t, os.WriteFile(filepath.Join(project, "NOTES.txt"), []byte("notes\n"), 0o644))
	gitIn(t, project, "add", "NOTES.txt")
	gitIn(t, project, "commit", "-q", "-m", "notes")
	report = filepath.Join(t.TempDir(), "junit.xml")
	res = e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report, "--mode", "operator", "--base-image", base,
		"--history", hist, "--affected-since", commit), project)...)
	require.Equal(t, 0, res.Exit, "stderr:\n%s", res.Stderr)
	run = e.latestRun(ctx, t, "coverage-")
	require.NotNil(t, run.Spec.AffectedSince)
	assert.Equal(t, commit, run.Spec.AffectedSince.Commit)
	assert.EqualValues(t, 2, run.Status.NotAffected)
	assert.EqualValues(t, 2, run.Status.Total)
	assert.EqualValues(t, 0, run.Status.Skipped, "counted apart")
	assert.Contains(t, res.Stdout, "2 tests were not affected by the change since "+commit[:12])
	ts = readReport(t, report)
	for _, s := range ts.Suites {
		for _, tc := range s.Testcases {
			require.NotNil(t, tc.Skipped, tc.Name)
			assert.Equal(t, "not affected since "+commit[:12]+": last passed at "+commit[:12], tc.Skipped.Message)
		}
	}
	e.c.RequireNoRunPods(t, e.ns)
}

// gitCommitAll makes dir a git repository of one commit, and returns it.
func gitCommitAll(t *testing.T, dir string) string {
	t.Helper()
	gitIn(t, dir, "init", "-q", "-b", "main")
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "project")
	return gitIn(t, dir, "rev-parse", "HEAD")
}

// gitIn runs git in dir, without the system's configuration.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com", "GIT_CONFIG_NOSYSTEM=1")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, b)
	return strings.TrimSpace(string(b))
}
