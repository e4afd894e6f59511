package attempt

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

func TestSettleUnit(t *testing.T) {
	cs := cases("t.py::a", "t.py::b", "t.py::c")
	passed := &junit.Testcase{Name: "a", SystemOut: &junit.Output{Text: "hello"}}
	failed := &junit.Testcase{Name: "b", Failure: &junit.Result{Message: "assert 1 == 2"}}
	oom := plan.Outcome{Status: plan.Error, ExitCode: 137, Reason: k8s.ReasonOOMKilled, Message: "killed"}
	exit1 := plan.Outcome{Status: plan.Failed, ExitCode: 1}
	status := func(m map[string]Attempt) map[string]string {
		out := map[string]string{}
		for _, c := range cs {
			if at, ok := m[c.ID]; ok {
				out[c.TestID] = string(at.Outcome.Status) + "/" + at.Outcome.Reason
			}
		}
		return out
	}
	tests := []struct {
		name string
		pod  Attempt
		want map[string]string
	}{
		{
			name: "every test reported",
			pod: Attempt{Outcome: exit1, Results: Results{Cases: map[string]CaseReport{
				"t.py::a": {Testcase: passed}, "t.py::b": {Testcase: failed}, "t.py::c": {Testcase: &junit.Testcase{Skipped: &junit.Result{}}},
			}}},
			want: map[string]string{"t.py::a": "passed/", "t.py::b": "failed/", "t.py::c": "skipped/"},
		},
		{
			name: "the running test takes the pod's death; the next runs again",
			pod: Attempt{Outcome: oom, Results: Results{Running: "t.py::b", Cases: map[string]CaseReport{
				"t.py::a": {Testcase: passed},
			}}},
			want: map[string]string{"t.py::a": "passed/", "t.py::b": "error/OOMKilled"},
		},
		{
			name: "a test stopped at its timeout",
			pod: Attempt{Outcome: plan.Outcome{Status: plan.Error, ExitCode: 137, Reason: k8s.ReasonKilled}, Results: Results{
				TimedOut: "t.py::b", Running: "t.py::b", Cases: map[string]CaseReport{"t.py::a": {Testcase: passed}},
			}},
			want: map[string]string{"t.py::a": "passed/", "t.py::b": "error/DeadlineExceeded"},
		},
		{
			name: "pytest ended by itself without reporting a test",
			pod:  Attempt{Outcome: exit1, Results: Results{Cases: map[string]CaseReport{"t.py::a": {Testcase: passed}}}},
			want: map[string]string{"t.py::a": "passed/", "t.py::b": "error/NoResult", "t.py::c": "error/NoResult"},
		},
		{
			name: "a pod that died before any test shares its fate with all",
			pod:  Attempt{Outcome: oom},
			want: map[string]string{"t.py::a": "error/OOMKilled", "t.py::b": "error/OOMKilled", "t.py::c": "error/OOMKilled"},
		},
		{
			name: "unreadable results of a pod that passed: every test passed",
			pod:  Attempt{Outcome: plan.Outcome{Status: plan.Passed}, ResultErr: errors.New("no block")},
			want: map[string]string{"t.py::a": "passed/", "t.py::b": "passed/", "t.py::c": "passed/"},
		},
		{
			name: "unreadable results of a pod that failed: no test is called failed",
			pod:  Attempt{Outcome: exit1, ResultErr: errors.New("no block")},
			want: map[string]string{"t.py::a": "error/NoResult", "t.py::b": "error/NoResult", "t.py::c": "error/NoResult"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SettleUnit(tt.pod, cs, time.Minute)
			assert.Equal(t, tt.want, status(got))
		})
	}
}

func TestSettleUnitKeepsEachTestsOwnResults(t *testing.T) {
	cs := cases("t.py::a", "t.py::b")
	start := time.Unix(100, 0)
	got := SettleUnit(Attempt{Pod: "p", Node: "n", Outcome: plan.Outcome{Status: plan.Failed, ExitCode: 1}, Results: Results{
		Output: "the whole session", ExitCode: 1,
		Cases: map[string]CaseReport{
			"t.py::a": {Testcase: &junit.Testcase{Name: "a", SystemOut: &junit.Output{Text: "out a"}, SystemErr: &junit.Output{Text: "err a"}}, Start: start, Stop: start.Add(time.Second)},
			"t.py::b": {Testcase: &junit.Testcase{Name: "b", Failure: &junit.Result{Message: "assert False"}}, Start: start.Add(time.Second), Stop: start.Add(3 * time.Second)},
		},
	}}, cs, time.Minute)
	a, b := got[cs[0].ID], got[cs[1].ID]
	assert.Equal(t, "out a\nerr a\n", a.Results.Output, "a test's own captured output, not the session's")
	assert.Equal(t, "p", a.Pod)
	assert.Equal(t, "n", a.Node)
	assert.Equal(t, 2*time.Second, b.Finished.Sub(b.Started))
	assert.Equal(t, "assert False", b.Outcome.Message)
	require.NotNil(t, b.Results.Testcase)
	assert.Equal(t, "b", b.Results.Testcase.Name)
}

func TestParseResultsOfAUnit(t *testing.T) {
	entry := `{"nodeid": "t.py::a", "start": 100.5, "stop": 101.25, "testcases": ["<testcase classname=\"t\" name=\"a\" file=\"t.py\" line=\"3\" time=\"0.7\"><failure message=\"boom\">trace</failure></testcase>"]}`
	log := encodeBlock(t, map[string]string{
		"cases/000001.json": entry,
		"cases/000002.json": `{"nodeid": "t.py::b", "testcases": [`,
		"cases/current":     `{"nodeid": "t.py::b", "start": 101.3}`,
		"cases/timedout":    `{"nodeid": "t.py::b", "start": 101.3}`,
		"times":             `{"start": 100000000000, "exit": 102000000000}`,
	})
	res, err := ParseResults(log)
	require.NoError(t, err)
	require.Contains(t, res.Cases, "t.py::a")
	assert.NotContains(t, res.Cases, "t.py::b", "a partial entry counts as not finished")
	tc := res.Cases["t.py::a"].Testcase
	require.NotNil(t, tc)
	assert.Equal(t, 4, tc.Line, "pytest's 0-based line, as an editor shows it")
	assert.Equal(t, plan.Failed, tc.Status())
	assert.Equal(t, time.Unix(100, 5e8), res.Cases["t.py::a"].Start)
	assert.Equal(t, "t.py::b", res.Running)
	assert.Equal(t, "t.py::b", res.TimedOut)
	assert.Equal(t, time.Unix(100, 0), res.TestStart)
	assert.Equal(t, time.Unix(102, 0), res.TestExit)
}

func encodeBlock(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var fs []transport.File
	for name, data := range files {
		fs = append(fs, transport.File{Name: name, Data: []byte(data)})
	}
	return block(t, fs...)
}

func TestTestOutputLeavesOutEmptySections(t *testing.T) {
	tc := junit.Testcase{SystemOut: &junit.Output{Text: "----- Captured Log -----\n\n----- Captured Out -----\nhello\n----- Captured Err -----\n\n"}}
	assert.Equal(t, "----- Captured Out -----\nhello\n", testOutput(tc))
	assert.Empty(t, testOutput(junit.Testcase{SystemOut: &junit.Output{Text: "--- Captured Out ---\n\n"}}))
	assert.Equal(t, "plain\n", testOutput(junit.Testcase{SystemErr: &junit.Output{Text: "plain"}}))
}
