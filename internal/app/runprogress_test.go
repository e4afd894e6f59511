package app

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/progress"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// podLife is a pod's life: waiting w, starting s, testing x, collecting c.
func podLife(start time.Time, w, s, x, c time.Duration) attempt.Timeline {
	return attempt.Timeline{
		Created: start, Scheduled: start.Add(w),
		TestStarted: start.Add(w + s), TestExited: start.Add(w + s + x),
		Collected: start.Add(w + s + x + c),
	}
}

func TestAttemptResult(t *testing.T) {
	c := plan.Case{ID: "c1", TestID: "tests/test_a.py::test_fail"}
	a := attempt.Attempt{
		Number: 2, Pod: "ktr-1-c1-2", Node: "n1",
		Outcome: plan.Outcome{Status: plan.Failed, ExitCode: 1, Message: "assert 1 == 2"},
		Started: t0, Finished: t0.Add(1500 * time.Millisecond),
		Results: attempt.Results{Output: "out", Testcase: &junit.Testcase{
			File: "tests/test_a.py", Line: 4, Time: "0.250",
			Failure: &junit.Result{Message: "assert 1 == 2", Text: "def test_fail():\n>   assert 1 == 2\nE   assert 1 == 2"},
		}},
	}
	r := attemptResult(c, a)
	assert.Equal(t, progress.Failed, r.Verdict)
	assert.Equal(t, 250*time.Millisecond, r.Duration, "pytest's own time of the test")
	assert.Equal(t, 2, r.Attempt)
	assert.Equal(t, "ktr-1-c1-2", r.Pod)
	assert.Equal(t, "tests/test_a.py", r.File)
	assert.Equal(t, 4, r.Line)
	assert.Contains(t, r.Message, ">   assert 1 == 2", "the full traceback")

	forged := a
	forged.Results.Testcase = &junit.Testcase{File: "tests/t.py)\n## x", Line: 4, Failure: &junit.Result{Message: "m"}}
	r = attemptResult(c, forged)
	assert.Empty(t, r.File, "not the test's own file")
	assert.Zero(t, r.Line)

	infra := attempt.Attempt{Number: 1, Pod: "p", Outcome: plan.Outcome{Status: plan.Error, ExitCode: 137, Reason: "OOMKilled", Message: "the test container exceeded its memory limit"},
		Started: t0, Finished: t0.Add(3 * time.Second)}
	r = attemptResult(c, infra)
	assert.Equal(t, progress.Error, r.Verdict)
	assert.Equal(t, "OOMKilled", r.Reason)
	assert.Equal(t, 3*time.Second, r.Duration, "the container's run when pytest wrote nothing")
	assert.Equal(t, "the test container exceeded its memory limit", r.Message)
}

func TestPrintSummaryHasPodTimesAndPhaseTotals(t *testing.T) {
	passed := func(id, pod string, tl attempt.Timeline) report.CaseResult {
		return report.CaseResult{Case: plan.Case{ID: id, TestID: "t.py::" + id}, Status: plan.Passed, Final: true, Attempts: []attempt.Attempt{{
			Number: 1, Pod: pod, Outcome: plan.Outcome{Status: plan.Passed}, Started: tl.TestStarted, Finished: tl.TestExited, Timeline: tl,
			Results: attempt.Results{Testcase: &junit.Testcase{Classname: "t", Name: id, Time: "1.000"}},
		}}}
	}
	shared := podLife(t0, time.Second, 2*time.Second, 6*time.Second, time.Second)
	rep := report.NewReport("r1", "img", "", t0, 20*time.Second, []report.CaseResult{
		passed("slow", "pod-1", podLife(t0, time.Second, 3*time.Second, 15*time.Second, time.Second)),
		// Two tests of one pod: its time counts once in the totals.
		passed("a", "pod-2", shared),
		passed("b", "pod-2", shared),
	})
	var buf bytes.Buffer
	printSummary(&buf, rep)
	out := buf.String()
	assert.Contains(t, out, "   20.00s     1.00s  t.py::slow\n")
	assert.Contains(t, out, "   10.00s     1.00s  t.py::a\n")
	assert.Contains(t, out, "wall time 20s for 3 tests: 0.15 tests/s\n")
	// pod-1: 1+3+15+1, pod-2 once: 1+2+6+1; 30 s in all.
	assert.Contains(t, out, "time in pods: 7% waiting, 17% starting, 70% testing, 7% collecting (30s in all)\n")
	assert.Contains(t, out, "3 passed in 20s (3 tests)\n")
}

// TestRunOutputFollowsTheStreamsAndFlags: a terminal gets the live line,
// a pipe the plain lines, --output json puts events on stdout and the
// summary on stderr; the logger is quiet without -v.
func TestRunOutputFollowsTheStreamsAndFlags(t *testing.T) {
	drive := func(o runOutput) {
		o.progress.Start(progress.Start{RunID: "r", Tests: 1, Parallelism: 1, MaxAttempts: 1})
		o.progress.Result(progress.Result{TestID: "t::a", Verdict: progress.Passed})
		o.log.Info("building test image", "base", "python")
		o.progress.Finish(progress.Summary{Counts: report.Counts{Total: 1, Passed: 1}})
	}

	env, stdout, stderr := testEnv(nil)
	o := newRunOutput(config.Config{}, env)
	drive(o)
	assert.Equal(t, env.Stdout, o.summary)
	assert.Equal(t, "k8s-testrun: running 1 test, 1 pod at once (run r)\nPASSED  t::a  0.00s  attempt 1\n", stderr.String())
	assert.Empty(t, stdout.String())

	env, _, stderr = testEnv(nil)
	o = newRunOutput(config.Config{Verbose: true}, env)
	drive(o)
	assert.Contains(t, stderr.String(), `level=INFO msg="building test image" base=python`)
	assert.Contains(t, stderr.String(), "PASSED  t::a")

	env, _, stderr = testEnv(map[string]string{"TERM": "xterm"})
	env.StderrIsTerminal = true
	o = newRunOutput(config.Config{}, env)
	drive(o)
	o.progress.Close()
	assert.Contains(t, stderr.String(), "\r\x1b[K[1/1] \x1b[32m1 passed\x1b[0m, 0 failed")

	env, _, stderr = testEnv(map[string]string{"TERM": "xterm", "NO_COLOR": "1"})
	env.StderrIsTerminal = true
	o = newRunOutput(config.Config{}, env)
	drive(o)
	o.progress.Close()
	assert.Contains(t, stderr.String(), "\r\x1b[K[1/1] 1 passed, 0 failed")
	assert.NotContains(t, stderr.String(), "\x1b[32m", "NO_COLOR")

	env, stdout, stderr = testEnv(nil)
	o = newRunOutput(config.Config{Output: config.OutputJSON}, env)
	drive(o)
	assert.Equal(t, env.Stderr, o.summary)
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	require.Len(t, lines, 3)
	assert.Contains(t, string(lines[0]), `"event":"run_started"`)
	assert.Contains(t, string(lines[2]), `"event":"run_finished"`)
	assert.Empty(t, stderr.String())
}
