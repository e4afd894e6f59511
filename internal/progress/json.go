package progress

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/history"
)

// Event is one line of --output json. Event names: run_started,
// test_finished, run_finished; the fields that do not belong to an event
// are left out.
type Event struct {
	Event string    `json:"event"`
	Time  time.Time `json:"time"`

	// run_started
	Run         string `json:"run,omitempty"`
	Tests       int    `json:"tests,omitempty"`
	Parallelism int    `json:"parallelism,omitempty"`
	Namespace   string `json:"namespace,omitempty"`

	// test_finished
	Test            string  `json:"test,omitempty"`
	Verdict         string  `json:"verdict,omitempty"`
	Final           *bool   `json:"final,omitempty"`
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	Attempt         int     `json:"attempt,omitempty"`
	Pod             string  `json:"pod,omitempty"`
	Node            string  `json:"node,omitempty"`
	Reason          string  `json:"reason,omitempty"`
	Message         string  `json:"message,omitempty"`
	File            string  `json:"file,omitempty"`
	Line            int     `json:"line,omitempty"`

	// run_finished
	Total       *int `json:"total,omitempty"`
	Passed      *int `json:"passed,omitempty"`
	Failed      *int `json:"failed,omitempty"`
	Errors      *int `json:"errors,omitempty"`
	Skipped     *int `json:"skipped,omitempty"`
	Flaky       *int `json:"flaky,omitempty"`
	NotRun      *int `json:"not_run,omitempty"`
	Quarantined *int `json:"quarantined,omitempty"`
	// QuarantinedTests are the tests whose failure a quarantine excused.
	QuarantinedTests []string `json:"quarantined_tests,omitempty"`
	WallSeconds      float64  `json:"wall_seconds,omitempty"`
	ExitCode         *int     `json:"exit_code,omitempty"`
	// Comparison is the run against its base (--history); absent
	// without one.
	Comparison *history.Comparison `json:"comparison,omitempty"`
	// NotAffected counts the tests --affected-since left out, apart from
	// Skipped.
	NotAffected int `json:"not_affected,omitempty"`
}

// jsonPrinter writes one Event per line.
type jsonPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	now   func() time.Time
	tally *tally
}

func (j *jsonPrinter) emit(e Event) {
	e.Time = j.now().UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	// A "##[" from a test would be a workflow command to a runner reading
	// this; it can only be inside a JSON string, where "\u005b" is the
	// same "[", so the line stays valid JSON with the same values and the
	// writer below has nothing to break.
	b = bytes.ReplaceAll(b, []byte("##["), []byte(`##\u005b`))
	j.w.Write(append(b, '\n'))
}

func (j *jsonPrinter) Phase(string) {}
func (j *jsonPrinter) Pod(Pod)      {}

func (j *jsonPrinter) Start(s Start) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tally.start, j.tally.started, j.tally.startedAt = s, true, j.now()
	j.emit(Event{Event: "run_started", Run: s.RunID, Tests: s.Tests, Parallelism: s.Parallelism, Namespace: s.Namespace})
}

func (j *jsonPrinter) Result(r Result) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, final := j.tally.add(r)
	j.emit(Event{
		Event: "test_finished", Test: r.TestID, Verdict: r.Verdict, Final: &final,
		DurationSeconds: r.Duration.Seconds(), Attempt: r.Attempt, Pod: r.Pod, Node: r.Node,
		Reason: r.Reason, Message: cut(r.Message, maxMessageBytes), File: r.File, Line: r.Line,
	})
}

func (j *jsonPrinter) Finish(s Summary) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{
		Event: "run_finished", Total: &s.Total, Passed: &s.Passed, Failed: &s.Failed, Errors: &s.Errors,
		Skipped: &s.Skipped, Flaky: &s.Flaky, NotRun: &s.NotRun, Quarantined: &s.Quarantined, QuarantinedTests: s.QuarantinedTests, WallSeconds: s.Wall.Seconds(), ExitCode: &s.ExitCode,
		Comparison: s.Comparison, NotAffected: s.NotAffected,
	})
}

func (j *jsonPrinter) Close() {}
