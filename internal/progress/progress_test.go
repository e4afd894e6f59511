package progress

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	utilclock "k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} }

func TestVerdict(t *testing.T) {
	tests := []struct {
		status junit.Status
		tc     *junit.Testcase
		want   string
	}{
		{junit.StatusPassed, nil, Passed},
		{junit.StatusPassed, &junit.Testcase{}, Passed},
		{junit.StatusFailed, nil, Failed},
		{junit.StatusFailed, &junit.Testcase{Failure: &junit.Result{Message: "assert 1 == 2"}}, Failed},
		{junit.StatusFailed, &junit.Testcase{Failure: &junit.Result{Message: "[XPASS(strict)] must fail"}}, XPass},
		{junit.StatusError, nil, Error},
		{junit.StatusSkipped, &junit.Testcase{Skipped: &junit.Result{Type: "pytest.skip", Message: "no"}}, Skipped},
		{junit.StatusSkipped, &junit.Testcase{Skipped: &junit.Result{Type: "pytest.xfail", Message: "known bug"}}, XFail},
		{junit.StatusSkipped, nil, Skipped},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Verdict(tt.status, tt.tc), "%s %+v", tt.status, tt.tc)
	}
}

var sample = []Result{
	{TestID: "tests/test_a.py::test_pass", Verdict: Passed, Duration: 1200 * time.Millisecond, Attempt: 1, Pod: "ktr-1"},
	{TestID: "tests/test_a.py::test_fail", Verdict: Failed, Duration: 2 * time.Second, Attempt: 1, Pod: "ktr-2",
		Message: "AssertionError: expected three apples\nassert 1 == 3", Output: "some output\n", File: "tests/test_a.py", Line: 7},
	{TestID: "tests/test_a.py::test_skip", Verdict: Skipped, Attempt: 1, Pod: "ktr-3"},
	{TestID: "tests/test_a.py::test_xfail", Verdict: XFail, Duration: 300 * time.Millisecond, Attempt: 1},
	{TestID: "tests/test_mem.py::test_big", Verdict: Error, Duration: 12 * time.Second, Attempt: 1, Pod: "ktr-5", Reason: "OOMKilled",
		Message: "the test container exceeded its memory limit"},
}

func TestPlainIsOneVerdictLinePerTest(t *testing.T) {
	var buf bytes.Buffer
	clock := newClock()
	p := New(&buf, Options{Now: clock.Now})
	p.Phase("building the test image")
	p.Start(Start{RunID: "abcd", Tests: len(sample), Parallelism: 4, MaxAttempts: 1})
	for _, r := range sample {
		clock.Advance(time.Second)
		p.Result(r)
	}
	p.Finish(Summary{})
	p.Close()

	assert.Equal(t, `k8s-testrun: building the test image
k8s-testrun: running 5 tests, 4 pods at once (run abcd)
PASSED  tests/test_a.py::test_pass  1.20s  attempt 1
FAILED  tests/test_a.py::test_fail  2.00s  attempt 1  pod ktr-2
SKIPPED tests/test_a.py::test_skip  0.00s  attempt 1
XFAIL   tests/test_a.py::test_xfail  0.30s  attempt 1
ERROR   tests/test_mem.py::test_big  12.0s  attempt 1  OOMKilled  pod ktr-5
`, buf.String())
	assert.NotContains(t, buf.String(), "\x1b", "no escape sequences in a pipe")
	assert.NotContains(t, buf.String(), "\r")
}

func TestPlainVerboseLeavesStepsToTheLogger(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Verbose: true})
	p.Phase("building the test image")
	p.Start(Start{RunID: "abcd", Tests: 1, Parallelism: 1})
	p.Result(sample[0])
	assert.Equal(t, "PASSED  tests/test_a.py::test_pass  1.20s  attempt 1\n", buf.String())
}

func TestRetriesPrintRerunThenTheFinalWord(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{})
	p.Start(Start{RunID: "r", Tests: 2, Parallelism: 2, MaxAttempts: 2})
	p.Result(Result{TestID: "t::flaky", Verdict: Failed, Attempt: 1, Pod: "p1"})
	p.Result(Result{TestID: "t::broken", Verdict: Error, Attempt: 1, Pod: "p2", Reason: "OOMKilled"})
	p.Result(Result{TestID: "t::flaky", Verdict: Passed, Attempt: 2, Pod: "p3"})
	p.Result(Result{TestID: "t::broken", Verdict: Error, Attempt: 2, Pod: "p4", Reason: "OOMKilled"})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")[1:]
	require.Len(t, lines, 4)
	assert.Equal(t, "RERUN   t::flaky  0.00s  attempt 1  pod p1", lines[0])
	assert.Equal(t, "RERUN   t::broken  0.00s  attempt 1  OOMKilled  pod p2", lines[1])
	assert.Equal(t, "FLAKY   t::flaky  0.00s  attempt 2", lines[2])
	assert.Equal(t, "ERROR   t::broken  0.00s  attempt 2  OOMKilled  pod p4", lines[3])
}

func TestPlainCleansControlCharacters(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{})
	p.Start(Start{Tests: 1})
	p.Result(Result{TestID: "t::x[\x1b[31mred\r::warning::boom]", Verdict: Failed, Pod: "p"})
	out := buf.String()
	assert.NotContains(t, out, "\x1b")
	assert.NotContains(t, out, "\r")
	assert.Contains(t, out, "FAILED  t::x[?[31mred?::warning::boom]")
}

// statusLines returns the status lines a live printer drew, in order.
func statusLines(out string) []string {
	var lines []string
	for _, part := range strings.Split(out, "\r\x1b[K") {
		if part = strings.TrimRight(part, "\n"); strings.HasPrefix(part, "[") {
			lines = append(lines, strings.SplitN(part, "\n", 2)[0])
		}
	}
	return lines
}

func TestLiveStatusLineAdvances(t *testing.T) {
	var buf bytes.Buffer
	clock := newClock()
	p := New(&buf, Options{Terminal: true, Now: clock.Now})
	live := p.(*livePrinter)
	p.Phase("building the test image")
	clock.Advance(3 * time.Second)
	live.Redraw()
	assert.Contains(t, buf.String(), "\r\x1b[Kbuilding the test image... 0:03")

	p.Start(Start{RunID: "abcd", Tests: 4, Parallelism: 2, MaxAttempts: 1})
	assert.Contains(t, buf.String(), "running 4 tests, 2 pods at once (run abcd)\n")
	clock.Advance(10 * time.Second)
	p.Result(Result{TestID: "t::a", Verdict: Passed, Duration: time.Second})
	clock.Advance(10 * time.Second)
	p.Result(Result{TestID: "t::b", Verdict: Passed, Duration: time.Second})
	clock.Advance(5 * time.Second)
	live.Redraw()
	p.Result(Result{TestID: "t::c", Verdict: Skipped})
	p.Close()

	got := statusLines(buf.String())
	assert.Equal(t, []string{
		"[0/4] 0 passed, 0 failed, 2 running | 0:00 elapsed",
		"[1/4] 1 passed, 0 failed, 2 running | 0:10 elapsed, ETA 0:30",
		"[2/4] 2 passed, 0 failed, 2 running | 0:20 elapsed, ETA 0:20",
		"[2/4] 2 passed, 0 failed, 2 running | 0:25 elapsed, ETA 0:25",
		"[3/4] 2 passed, 0 failed, 1 running | 0:25 elapsed, ETA 0:08",
	}, got)
	assert.True(t, strings.HasSuffix(buf.String(), "\r\x1b[K"), "Close clears the status line")
	assert.NotContains(t, buf.String(), "PASSED", "passes only move the count")
	assert.NotContains(t, buf.String(), "\x1b[3", "no colour unless asked")
}

func TestLivePrintsFailuresInFullAboveTheStatusLine(t *testing.T) {
	var buf bytes.Buffer
	clock := newClock()
	p := New(&buf, Options{Terminal: true, Now: clock.Now, Color: true})
	p.Start(Start{RunID: "abcd", Tests: 2, Parallelism: 2, MaxAttempts: 1})
	p.Result(sample[1])
	p.Close()
	out := buf.String()
	i := strings.Index(out, "FAILED  tests/test_a.py::test_fail")
	require.GreaterOrEqual(t, i, 0, out)
	assert.True(t, strings.HasSuffix(out[:i], "\r\x1b[K\x1b[31m"), "the status line is erased first, then the failure in red: %q", out[:i])
	assert.Contains(t, out, "attempt 1  pod ktr-2  at tests/test_a.py:7\x1b[0m\n"+
		"    AssertionError: expected three apples\n"+
		"    assert 1 == 3\n\r")
	assert.NotContains(t, out, "some output", "the output only repeats pytest's report")
	assert.Contains(t, out, "\x1b[31m1 failed\x1b[0m", "the failed count in red")
	assert.Contains(t, statusLines(out)[1], "[1/2]")
}

func TestLiveShowsTheOutputOfAFailureWithoutMessage(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Terminal: true})
	p.Start(Start{Tests: 1, MaxAttempts: 1})
	p.Result(Result{TestID: "t::crash", Verdict: Error, Reason: "OOMKilled", Output: "allocating\nstill allocating\n"})
	p.Close()
	assert.Contains(t, buf.String(), "ERROR   t::crash  0.00s  attempt 1  OOMKilled\n    --- output ---\n    allocating\n    still allocating\n")
}

func TestLiveFailureIsCapped(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Terminal: true, MaxFailureLines: 3})
	p.Start(Start{Tests: 1, MaxAttempts: 1})
	long := strings.Repeat("x", 5000)
	p.Result(Result{TestID: "t::big", Verdict: Failed, Message: long + "\nb\nc\nd\ne"})
	p.Close()
	out := buf.String()
	assert.Contains(t, out, "... (4000 more bytes)")
	assert.Contains(t, out, "    ... 2 more lines\n")
	assert.Less(t, len(out), 1500)
}

func TestLiveRefreshesOnItsOwn(t *testing.T) {
	var buf syncBuffer
	clk := &stopClock{FakeClock: testingclock.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)), stopped: make(chan struct{})}
	p := New(&buf, Options{Terminal: true, Refresh: 5 * time.Millisecond, Clock: clk})
	p.Phase("discovering tests")
	require.Eventually(t, func() bool {
		clk.Step(5 * time.Millisecond)
		return strings.Count(buf.String(), "discovering tests...") >= 3
	}, 5*time.Second, time.Millisecond)
	p.Close()
	n := len(buf.String())
	select {
	case <-clk.stopped:
	default:
		t.Fatal("Close returned with the refresh ticker still running")
	}
	clk.Step(time.Minute)
	assert.Equal(t, n, len(buf.String()), "nothing drawn after Close")
}

// stopClock is a fake clock whose ticker says when it is stopped (the fake
// ticker's own Stop does nothing).
type stopClock struct {
	*testingclock.FakeClock
	stopped chan struct{}
}

func (c *stopClock) NewTicker(d time.Duration) utilclock.Ticker {
	return stopTicker{Ticker: c.FakeClock.NewTicker(d), stopped: c.stopped}
}

type stopTicker struct {
	utilclock.Ticker
	stopped chan struct{}
}

func (t stopTicker) Stop() { close(t.stopped) }

func TestJSONEvents(t *testing.T) {
	var buf bytes.Buffer
	clock := newClock()
	p := New(&buf, Options{Format: FormatJSON, Terminal: true, Now: clock.Now})
	p.Phase("building the test image")
	p.Start(Start{RunID: "abcd", Tests: 2, Parallelism: 4, MaxAttempts: 2, Namespace: "ns"})
	p.Result(sample[1])
	p.Result(Result{TestID: sample[1].TestID, Verdict: Passed, Attempt: 2, Duration: time.Second})
	p.Result(sample[0])
	p.Finish(Summary{Counts: report.Counts{Total: 2, Passed: 2, Flaky: 1}, Wall: 3 * time.Second})
	p.Close()

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 5, "one event per line, none for phases")
	var events []map[string]any
	for _, l := range lines {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &e), l)
		events = append(events, e)
	}
	assert.Equal(t, "run_started", events[0]["event"])
	assert.Equal(t, "abcd", events[0]["run"])
	assert.EqualValues(t, 2, events[0]["tests"])
	assert.Equal(t, "2026-12-01T09:00:00Z", events[0]["time"])

	assert.Equal(t, "test_finished", events[1]["event"])
	assert.Equal(t, "RERUN", events[1]["verdict"])
	assert.Equal(t, false, events[1]["final"])
	assert.Equal(t, "ktr-2", events[1]["pod"])
	assert.EqualValues(t, 2, events[1]["duration_seconds"])
	assert.Contains(t, events[1]["message"], "expected three apples")
	assert.Equal(t, "FLAKY", events[2]["verdict"])
	assert.Equal(t, true, events[2]["final"])
	assert.Equal(t, "PASSED", events[3]["verdict"])

	assert.Equal(t, "run_finished", events[4]["event"])
	assert.EqualValues(t, 2, events[4]["passed"])
	assert.EqualValues(t, 0, events[4]["failed"], "zero counts are written")
	assert.EqualValues(t, 0, events[4]["exit_code"])
	assert.EqualValues(t, 3, events[4]["wall_seconds"])
}

func TestJSONMessageIsCapped(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Format: FormatJSON})
	p.Result(Result{TestID: "t::big", Verdict: Failed, Message: strings.Repeat("é", 1<<20)})
	assert.Less(t, buf.Len(), 70<<10)
	var e Event
	require.NoError(t, json.Unmarshal(buf.Bytes(), &e))
	assert.Regexp(t, regexp.MustCompile(`\.\.\. \(\d+ more bytes\)$`), e.Message)
}

// TestJSONEventsHoldNoLegacyCommand: a "##[" from a test is written as
// "##\u005b", the same value to a JSON reader and no command to a runner.
func TestJSONEventsHoldNoLegacyCommand(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Format: FormatJSON})
	r := Result{TestID: "t.py::test[##[warning]x]", Verdict: Failed, Message: "a ##[error]b", File: ".##[x]/t.py"}
	p.Result(r)
	assert.NotContains(t, buf.String(), "##[")
	var e Event
	require.NoError(t, json.Unmarshal(buf.Bytes(), &e))
	assert.Equal(t, r.TestID, e.Test)
	assert.Equal(t, r.Message, e.Message)
	assert.Equal(t, r.File, e.File)
}

func TestClockAndSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00", 59*time.Second + 600*time.Millisecond: "1:00", 62 * time.Minute: "1:02:00",
	} {
		assert.Equal(t, want, clock(d), d)
	}
	for d, want := range map[time.Duration]string{
		420 * time.Millisecond: "0.42s", 12300 * time.Millisecond: "12.3s", 125 * time.Second: "2:05",
	} {
		assert.Equal(t, want, seconds(d), d)
	}
}

// syncBuffer is a bytes.Buffer safe for the printer's redraw goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestETAFromHistory(t *testing.T) {
	start := time.Unix(1000, 0)
	tl := &tally{attempts: map[string]int{}, failedBefore: map[string]bool{}, finished: map[string]bool{}}
	tl.start = Start{Tests: 3, Parallelism: 1, MaxAttempts: 1, Expected: map[string]time.Duration{"a": time.Second, "b": 2 * time.Second, "c": 7 * time.Second}}
	tl.started, tl.startedAt = true, start
	eta, ok := tl.eta(start)
	if !ok || eta != 10*time.Second {
		t.Fatalf("before the first result: %v %v, want the expected total over the parallelism, 10s", eta, ok)
	}
	tl.add(Result{TestID: "a", Verdict: Passed})
	// a was expected to take 1s and took 2s: the 9s left take 18s.
	eta, ok = tl.eta(start.Add(2 * time.Second))
	if !ok || eta != 18*time.Second {
		t.Fatalf("after a: %v %v, want 18s", eta, ok)
	}
}

// TestLiveShowsRunningPodsAndTheSlowest: once pods are heard of, the
// status line counts the pods whose tests run and names the two that have
// run longest.
func TestLiveShowsRunningPodsAndTheSlowest(t *testing.T) {
	var buf bytes.Buffer
	clock := newClock()
	p := New(&buf, Options{Terminal: true, Now: clock.Now})
	p.Start(Start{RunID: "abcd", Tests: 5, Parallelism: 4, MaxAttempts: 1})
	p.Pod(Pod{Name: "p1", Tests: []string{"t.py::slow"}, Running: true, Started: clock.Now()})
	clock.Advance(30 * time.Second)
	p.Pod(Pod{Name: "p2", Tests: []string{"t.py::a", "t.py::b"}, Running: true, Started: clock.Now()})
	clock.Advance(5 * time.Second)
	p.Pod(Pod{Name: "p3", Tests: []string{"t.py::c"}, Running: true, Started: clock.Now()})
	p.Pod(Pod{Name: "p2"})
	p.Close()

	got := statusLines(buf.String())
	assert.Equal(t, []string{
		"[0/5] 0 passed, 0 failed, 4 running | 0:00 elapsed",
		"[0/5] 0 passed, 0 failed, 1 running | 0:00 elapsed | slowest: t.py::slow 0:00",
		"[0/5] 0 passed, 0 failed, 2 running | 0:30 elapsed | slowest: t.py::slow 0:30, t.py::a +1 0:00",
		"[0/5] 0 passed, 0 failed, 3 running | 0:35 elapsed | slowest: t.py::slow 0:35, t.py::a +1 0:05",
		"[0/5] 0 passed, 0 failed, 2 running | 0:35 elapsed | slowest: t.py::slow 0:35, t.py::c 0:00",
	}, got)
}

func TestJSONQuarantined(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Format: FormatJSON})
	p.Finish(Summary{Counts: report.Counts{Total: 3, Passed: 1, Failed: 1, Quarantined: 1}, QuarantinedTests: []string{"t.py::q"}, ExitCode: 1})
	var e map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &e))
	assert.EqualValues(t, 1, e["quarantined"])
	assert.Equal(t, []any{"t.py::q"}, e["quarantined_tests"])
	assert.EqualValues(t, 1, e["failed"], "counted apart from failures")
}
