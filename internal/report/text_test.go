package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

// mixedRun is a run of the sample project, in the order the pods finished.
func mixedRun() []Case {
	return []Case{
		{TestID: "tests/test_sample.py::test_pass", Status: junit.StatusPassed, File: "tests/test_sample.py", Line: 4, Duration: 12 * time.Millisecond, Attempts: 1},
		{TestID: "tests/test_sample.py::test_fail", Status: junit.StatusFailed, File: "tests/test_sample.py", Line: 8, Duration: 20 * time.Millisecond, Attempts: 3,
			Message: "AssertionError: numbers differ\nassert 1 == 2"},
		{TestID: "tests/test_sample.py::test_error", Status: junit.StatusError, File: "tests/test_sample.py", Line: 18, Duration: 5 * time.Millisecond, Attempts: 1,
			Message: `failed on setup with "RuntimeError: fixture exploded"`},
		{TestID: "tests/test_mem.py::TestMemory::test_big", Status: junit.StatusError, File: "tests/test_mem.py", Attempts: 1,
			Reason: "OOMKilled", Message: "the test container exceeded its memory limit"},
		{TestID: "tests/test_slow.py::test_sleep", Status: junit.StatusError, File: "tests/test_slow.py", Line: 3, Duration: 30 * time.Second, Attempts: 1,
			Reason: "DeadlineExceeded", Message: "the pod ran past its 30s deadline"},
		{TestID: "tests/test_sample.py::test_skip", Status: junit.StatusSkipped, File: "tests/test_sample.py", Line: 22, Attempts: 1, Message: "not on this platform"},
		{TestID: "tests/test_sample.py::test_xfail", Status: junit.StatusSkipped, File: "tests/test_sample.py", Line: 27, Duration: time.Millisecond, Attempts: 1, Message: "known bug"},
		{TestID: "tests/test_sample.py::test_flaky", Status: junit.StatusPassed, File: "tests/test_sample.py", Line: 50, Duration: 1250 * time.Millisecond, Attempts: 2, Flaky: true},
		{TestID: "tests/test_sample.py::test_param[param with spaces]", Status: junit.StatusPassed, File: "tests/test_sample.py", Line: 42, Duration: 3 * time.Millisecond, Attempts: 1},
		{TestID: "tests/test_sample.py::test_traceback", Status: junit.StatusFailed, File: "tests/test_sample.py", Line: 60, Duration: 7 * time.Millisecond, Attempts: 1,
			Message: "line 1\r\nline 2\n\x1b[31mline 3 in red\x1b[0m\nline 4\nline 5\nline 6\nline 7\n"},
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		golden string
		cases  []Case
		wall   time.Duration
		phases Phases
		opts   Options
	}{
		{golden: "mixed.txt", cases: mixedRun(), wall: 73*time.Second + 420*time.Millisecond},
		{golden: "mixed-short.txt", cases: mixedRun(), wall: 73 * time.Second, opts: Options{Slowest: -1, MessageLines: 1}},
		{golden: "all-passed.txt", wall: 2 * time.Second, cases: []Case{
			{TestID: "a.py::test_1", Status: junit.StatusPassed, Duration: time.Second, Attempts: 1},
			{TestID: "a.py::test_2", Status: junit.StatusPassed, Duration: 2 * time.Second, Attempts: 1},
		}},
		{golden: "one-error-untimed.txt", wall: 500 * time.Millisecond, cases: []Case{
			{TestID: "a.py::test_1", Status: junit.StatusError, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		}},
		{golden: "empty.txt", wall: 40 * time.Millisecond},
		{golden: "pod-times.txt", wall: 25 * time.Second, phases: Phases{Waiting: 3 * time.Second, Starting: 19 * time.Second, Testing: 24 * time.Second, Collecting: 4 * time.Second}, cases: []Case{
			{TestID: "a.py::test_quick", Status: junit.StatusPassed, Duration: 10 * time.Millisecond, PodTime: 4200 * time.Millisecond, Attempts: 1},
			{TestID: "a.py::test_sleep", Status: junit.StatusPassed, Duration: 20 * time.Second, PodTime: 23500 * time.Millisecond, Attempts: 1},
			{TestID: "a.py::test_unknown_pod", Status: junit.StatusPassed, Duration: 30 * time.Millisecond, Attempts: 1},
			{TestID: "a.py::test_never_ran", Status: junit.StatusError, Reason: "Unschedulable", Attempts: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			s := Count(tt.cases)
			s.Wall = tt.wall
			s.Phases = tt.phases
			var buf bytes.Buffer
			require.NoError(t, Text(&buf, s, tt.cases, tt.opts))
			golden(t, tt.golden, buf.Bytes())
		})
	}
}

func TestTextIgnoresFinishingOrder(t *testing.T) {
	cases := mixedRun()
	reversed := make([]Case, len(cases))
	for i, c := range cases {
		reversed[len(cases)-1-i] = c
	}
	var a, b bytes.Buffer
	require.NoError(t, Text(&a, Count(cases), cases, Options{}))
	require.NoError(t, Text(&b, Count(reversed), reversed, Options{}))
	assert.Equal(t, a.String(), b.String())
}

func TestCount(t *testing.T) {
	got := Count(mixedRun())
	assert.Equal(t, Summary{Counts: Counts{Passed: 3, Failed: 2, Errors: 3, Skipped: 2, Flaky: 1, Total: 10}}, got)
	assert.Equal(t, Summary{}, Count(nil))
}

func TestClosingLine(t *testing.T) {
	tests := []struct {
		s    Summary
		want string
	}{
		{Summary{}, "no tests ran in 0s"},
		{Summary{Counts: Counts{Passed: 1, Total: 1}, Wall: 1234 * time.Millisecond}, "1 passed in 1.2s (1 test)"},
		{Summary{Counts: Counts{Errors: 1, Total: 1}, Wall: time.Second}, "1 error in 1s (1 test)"},
		{Summary{Counts: Counts{Failed: 2, Passed: 3, Skipped: 1, Errors: 2, Flaky: 1, Total: 8}, Wall: 90 * time.Second}, "2 failed, 3 passed, 1 skipped, 2 errors, 1 flaky in 1m30s (8 tests)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, closingLine(tt.s))
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestTextWriteError(t *testing.T) {
	require.ErrorIs(t, Text(failingWriter{}, Count(mixedRun()), mixedRun(), Options{}), os.ErrClosed)
}

func TestRateAndPhaseLines(t *testing.T) {
	assert.Equal(t, "wall time 25s for 12 tests: 0.48 tests/s", rateLine(Summary{Counts: Counts{Total: 12}, Wall: 25 * time.Second}))
	assert.Equal(t, "wall time 0s for 1 test: - tests/s", rateLine(Summary{Counts: Counts{Total: 1}}))
	assert.Equal(t, "time in pods: 12% waiting, 31% starting, 52% testing, 5% collecting (1m40s in all)",
		phaseLine(Phases{Waiting: 12 * time.Second, Starting: 31 * time.Second, Testing: 52 * time.Second, Collecting: 5 * time.Second}))
	assert.Empty(t, phaseLine(Phases{}), "no line when no pod was timed")
}

func TestLaneLines(t *testing.T) {
	cases := []Case{
		{TestID: "t.py::a", Status: junit.StatusPassed},
		{TestID: "t.py::b", Status: junit.StatusFailed},
		{TestID: "t.py::s1", Status: junit.StatusPassed, Lane: "serial"},
		{TestID: "t.py::s2", Status: junit.StatusPassed, Lane: "serial"},
		{TestID: "t.py::f", Status: junit.StatusPassed, Flaky: true, Attempts: 2, Lane: "flaky"},
		{TestID: "t.py::slow", Status: junit.StatusPassed, Lane: "slow"},
	}
	assert.Equal(t, []string{
		"slow: 1 passed (1 test)",
		"default: 1 failed, 1 passed (2 tests)",
		"flaky: 1 passed, 1 flaky (1 test)",
		"serial: 2 passed (2 tests)",
	}, LaneLines(cases))
	assert.Nil(t, LaneLines(cases[:2]), "no lane line without lanes")

	var b bytes.Buffer
	require.NoError(t, Text(&b, Count(cases), cases, Options{}))
	assert.Contains(t, b.String(), "lanes")
	assert.Contains(t, b.String(), "serial: 2 passed (2 tests)\n")
}

func TestMatrixLines(t *testing.T) {
	bases := []string{"Python 3.11", "Python 3.13"}
	cases := []Case{
		{TestID: "t.py::a", Status: junit.StatusPassed, Base: bases[0]},
		{TestID: "t.py::a", Status: junit.StatusPassed, Base: bases[1]},
		{TestID: "t.py::old", Status: junit.StatusPassed, Base: bases[0]},
		{TestID: "t.py::old", Status: junit.StatusFailed, Base: bases[1], Message: "boom"},
		{TestID: "t.py::new", Status: junit.StatusSkipped, Base: bases[1]},
	}
	assert.Equal(t, []string{
		"Python 3.11: 2 passed (2 tests)",
		"Python 3.13: 1 failed, 1 passed, 1 skipped (3 tests)",
		"2 tests whose verdict differs between bases:",
		"  test       Python 3.11    Python 3.13",
		"  t.py::old  passed         FAILED",
		"  t.py::new  not collected  skipped",
	}, MatrixLines(cases, bases))

	var b strings.Builder
	require.NoError(t, Text(&b, Count(cases), cases, Options{Bases: bases}))
	assert.Contains(t, b.String(), "== runtime matrix ==\nPython 3.11: 2 passed (2 tests)\n")
	assert.Contains(t, b.String(), "FAILED t.py::old  [Python 3.13]\n    boom\n")

	same := []Case{{TestID: "t.py::a", Status: junit.StatusPassed, Base: bases[0]}, {TestID: "t.py::a", Status: junit.StatusPassed, Base: bases[1]}}
	assert.Equal(t, "every test has the same verdict on every base", MatrixLines(same, bases)[2])
	b.Reset()
	require.NoError(t, Text(&b, Count(same), same, Options{}))
	assert.NotContains(t, b.String(), "runtime matrix", "no matrix without bases")
}
