package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/ghaction"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/rerun"
)

func TestRerunAndMaxFailuresBadInputIsOneLine(t *testing.T) {
	dir := t.TempDir()
	notJUnit := filepath.Join(dir, "coverage.xml")
	require.NoError(t, os.WriteFile(notJUnit, []byte(`<coverage version="7"/>`), 0o644))
	base := []string{"run", "--repository", "localhost:5001/x"}
	plainReport := filepath.Join("..", "rerun", "testdata", "pytest-sample.xml")
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"max failures not a number", []string{"--max-failures", "many"}, []string{`--max-failures "many": not a whole number`}},
		{"max failures negative", []string{"--max-failures", "-2"}, []string{`max failures "-2": must be 0 (no limit) or more`}},
		{"report missing", []string{"--rerun-failed", filepath.Join(dir, "gone.xml")}, []string{`rerun failed "` + filepath.Join(dir, "gone.xml") + `": does not exist`, "give the JUnit XML report"}},
		{"report not junit", []string{"--rerun-failed", notJUnit}, []string{`rerun failed "` + notJUnit + `": is not a JUnit XML report: its root element is <coverage>`}},
		{"operator mode, plain pytest report", []string{"--mode", "operator", "--rerun-failed", plainReport}, []string{`rerun failed "` + plainReport + `": names its failed tests by classname and name only`, "give a k8s-testrun report", "use --mode direct"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, _, stderr := testEnv(nil)
			assert.Equal(t, ExitInfra, Run(context.Background(), append(append(base, tt.args...), dir), env))
			out := strings.TrimSpace(stderr.String())
			assert.NotContains(t, out, "\n", "one line")
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
		})
	}
}

// TestRerunOfAReportWithoutFailures runs nothing: no cluster is needed
// (the kubeconfig does not exist), and the exit code is 0.
func TestRerunOfAReportWithoutFailures(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "junit.xml")
	require.NoError(t, os.WriteFile(report, []byte(`<testsuites><testsuite><testcase classname="tests.test_a" name="test_ok"/><testcase classname="tests.test_a" name="test_skip"><skipped/></testcase></testsuite></testsuites>`), 0o644))
	env, stdout, stderr := testEnv(map[string]string{"KUBECONFIG": filepath.Join(dir, "no-kubeconfig")})
	code := Run(context.Background(), []string{"run", "--repository", "localhost:5001/x", "--rerun-failed", report, dir}, env)
	assert.Equal(t, ExitOK, code, stderr.String())
	assert.Equal(t, "k8s-testrun: "+report+" has no failed or errored tests (of 2); nothing to rerun\n", stderr.String())
	assert.Empty(t, stdout.String())
	assert.NoFileExists(t, filepath.Join(dir, "k8s-testrun-junit.xml"))
}

func TestMissingLine(t *testing.T) {
	assert.Empty(t, missingLine("r.xml", 2, rerun.Selection{IDs: []string{"a", "b"}}))
	line := missingLine("r.xml", 6, rerun.Selection{IDs: []string{"t.py::x"}, Missing: []rerun.Test{
		{TestID: "tests/test_old.py::test_gone"},
		{Classname: "tests.test_a.TestK", Name: "test_y[1]"},
		{Classname: "tests.test_b", Name: "test_z"},
		{Classname: "tests.test_c", Name: "::error::hi"},
		{Classname: "tests.test_d", Name: "test_w"},
	}})
	assert.Equal(t, "k8s-testrun: 5 of the 6 failed tests in r.xml no longer exist "+
		"(tests/test_old.py::test_gone, tests.test_a.TestK::test_y[1], tests.test_b::test_z, …); running the other 1", line)
	line = missingLine("r.xml", 1, rerun.Selection{Missing: []rerun.Test{{Classname: "c", Name: "n\n::warning::x"}}})
	assert.NotContains(t, line, "\n")
	assert.Contains(t, line, "nothing to rerun")
}

// TestActionSummaryOfAStoppedRun: the job summary says why tests did not
// run, and the step fails as for any failure.
func TestActionSummaryOfAStoppedRun(t *testing.T) {
	dir := t.TempDir()
	sum := filepath.Join(dir, "summary")
	env, _, _ := testEnv(map[string]string{"GITHUB_STEP_SUMMARY": sum, "GITHUB_OUTPUT": filepath.Join(dir, "output")})
	a := &action{
		env: env, wf: ghaction.NewWorkflow(env.Stdout, env.Getenv), log: slog.New(slog.DiscardHandler),
		cfg: config.Config{JUnitPath: filepath.Join(dir, "junit.xml"), MaxFailures: 1}, set: ghaction.Settings{FailOn: "failures", JUnitPath: "junit.xml"},
		start: time.Now(),
	}
	failed := []attempt.Attempt{{Number: 1, Outcome: plan.Outcome{Status: plan.Failed, ExitCode: 1}}}
	rep := report.NewReport("r1", "img", "", time.Now(), time.Second, []report.CaseResult{
		{Case: plan.Case{ID: "a", TestID: "t.py::a"}, Status: plan.Failed, Final: true, Attempts: failed},
		{Case: plan.Case{ID: "b", TestID: "t.py::b"}, Final: true, Stopped: true},
		{Case: plan.Case{ID: "c", TestID: "t.py::c"}, Final: true, Stopped: true},
	})
	assert.Equal(t, ExitTestsFailed, a.finish(context.Background(), rep, nil, false))
	b, err := os.ReadFile(sum)
	require.NoError(t, err)
	md := string(b)
	assert.Contains(t, md, "k8s-testrun: 1 failed, 2 not run in 1s")
	assert.Contains(t, md, "The run stopped after 1 failed or errored test (max\\_failures): 2 tests were not run.")
}

func TestOperatorRunTakesMaxFailures(t *testing.T) {
	p := &pipeline{cfg: config.Config{MaxFailures: 2, Parallelism: 3}, runID: "x-1", cluster: &k8s.Cluster{Namespace: "ns"}}
	run, err := p.testRun("img@sha256:1")
	require.NoError(t, err)
	assert.Equal(t, int32(2), run.Spec.MaxFailures)
	assert.Equal(t, int32(3), run.Spec.Parallelism)
}

// TestActionRerunOfAReportWithoutFailures: the step builds and runs
// nothing (the cluster is unreachable and never asked), says so, and
// passes with the check run completed as a success.
func TestActionRerunOfAReportWithoutFailures(t *testing.T) {
	api, srv := newGitHubAPI(t, 0)
	vars, _, sum := actionVars(t, srv.URL, map[string]string{"rerun_failed": "old.xml"})
	require.NoError(t, os.WriteFile(filepath.Join(vars["GITHUB_WORKSPACE"], "old.xml"),
		[]byte(`<testsuites><testsuite><testcase classname="tests.test_a" name="test_ok"/></testsuite></testsuites>`), 0o644))
	env, stdout, stderr := testEnv(vars)
	assert.Equal(t, ExitOK, Run(context.Background(), nil, env), "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout.String(), "old.xml has no failed or errored tests (of 1); nothing to rerun\n")
	assert.NotContains(t, stdout.String(), "127.0.0.1:1", "the cluster is not contacted")
	require.Equal(t, []string{"POST /repos/o/r/check-runs", "PATCH /repos/o/r/check-runs/5"}, api.paths)
	assert.Equal(t, "success", api.reqs[1]["conclusion"])
	summary, err := os.ReadFile(sum)
	require.NoError(t, err)
	assert.Contains(t, string(summary), "no tests ran")
}

// ownReport is a k8s-testrun report: its testcases carry their node ids.
const ownReport = `<testsuites><testsuite name="k8s-testrun">
<testcase classname="tests.test_a" name="test_ok"><properties><property name="k8s-testrun.test-id" value="tests/test_a.py::test_ok"/></properties></testcase>
<testcase classname="tests.test_a" name="test_bad"><properties><property name="k8s-testrun.test-id" value="tests/test_a.py::test_bad"/></properties><failure message="boom"/></testcase>
<testcase classname="tests.test_a.TestK" name="test_x[1]"><properties><property name="k8s-testrun.test-id" value="tests/test_a.py::TestK::test_x[1]"/></properties><error message="fixture"/></testcase>
<testcase classname="tests.test_a" name="test_skip"><properties><property name="k8s-testrun.test-id" value="tests/test_a.py::test_skip"/></properties><skipped/></testcase>
</testsuite></testsuites>`

// In operator mode the failed and errored tests of a k8s-testrun report
// become the TestRun's tests, and the lane flags its lane fields.
func TestOperatorRunTakesRerunAndLanes(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "junit.xml")
	require.NoError(t, os.WriteFile(report, []byte(ownReport), 0o644))
	cfg, err := parseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--rerun-failed", report,
		"--lane", "serial=serial,db", "--slow-timeout", "20m", "--flaky-retries", "4", dir}, func(string) string { return "" }, &strings.Builder{})
	require.NoError(t, err)
	p := &pipeline{cfg: cfg, runID: "x-1", cluster: &k8s.Cluster{Namespace: "ns"}}
	run, err := p.testRun("img@sha256:1")
	require.NoError(t, err)
	assert.Equal(t, []string{"tests/test_a.py::test_bad", "tests/test_a.py::TestK::test_x[1]"}, run.Spec.RerunTests,
		"the operator discovers and keeps these, each with its markers")
	assert.Empty(t, run.Spec.Tests)
	assert.Equal(t, []string{"serial", "db"}, []string(run.Spec.Lanes["serial"]))
	assert.Equal(t, []string{"slow"}, []string(run.Spec.Lanes["slow"]), "a policy not mapped keeps its own marker")
	require.NotNil(t, run.Spec.SlowTimeout)
	assert.Equal(t, 20*time.Minute, run.Spec.SlowTimeout.Duration)
	require.NotNil(t, run.Spec.FlakyRetries)
	assert.Equal(t, int32(4), *run.Spec.FlakyRetries)

	// Without the flags: no lanes mapping, the default slow timeout (3×
	// timeout, the operator's too), discovery.
	cfg, err = parseRun([]string{"--repository", "r.io/x", "--mode", "operator", dir}, func(string) string { return "" }, &strings.Builder{})
	require.NoError(t, err)
	p = &pipeline{cfg: cfg, runID: "x-1", cluster: &k8s.Cluster{Namespace: "ns"}}
	run, err = p.testRun("img@sha256:1")
	require.NoError(t, err)
	assert.Nil(t, run.Spec.Lanes)
	assert.Nil(t, run.Spec.SlowTimeout)
	assert.Empty(t, run.Spec.Tests)
	assert.Empty(t, run.Spec.RerunTests)
	assert.Equal(t, int32(config.DefaultFlakyRetries), *run.Spec.FlakyRetries)
}

// A report without failures runs nothing in operator mode too: no cluster
// is asked, exit 0.
func TestOperatorRerunOfAReportWithoutFailures(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "junit.xml")
	require.NoError(t, os.WriteFile(report, []byte(`<testsuites><testsuite><testcase classname="tests.test_a" name="test_ok"/></testsuite></testsuites>`), 0o644))
	env, _, stderr := testEnv(map[string]string{"KUBECONFIG": filepath.Join(dir, "no-kubeconfig")})
	code := Run(context.Background(), []string{"run", "--repository", "localhost:5001/x", "--mode", "operator", "--rerun-failed", report, dir}, env)
	assert.Equal(t, ExitOK, code, stderr.String())
	assert.Equal(t, "k8s-testrun: "+report+" has no failed or errored tests (of 1); nothing to rerun\n", stderr.String())
}
