package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// AttemptsFile is the name of the per-attempt record written beside the
// JUnit report.
const AttemptsFile = "attempts.json"

// TimeFormat is how attempt times are written: RFC 3339, in UTC, to the
// millisecond.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// AttemptProperty names a testcase property of attempt n, e.g.
// k8s-testrun.attempt.2.start.
func AttemptProperty(n int, field string) string {
	return junit.PropertyAttempt + "." + strconv.Itoa(n) + "." + field
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// addAttempts records every attempt of a case on its testcase: start, end,
// status and reason as properties, and, when it took more than one, a line
// per attempt in system-out, so a retry and its cause are never lost behind
// the last attempt's verdict.
func addAttempts(tc *junit.Testcase, cr CaseResult) {
	for i, at := range cr.Attempts {
		n := at.Number
		if s := formatTime(at.Started); s != "" {
			tc.AddProperty(AttemptProperty(n, "start"), s)
		}
		if s := formatTime(at.Finished); s != "" {
			tc.AddProperty(AttemptProperty(n, "end"), s)
		}
		tc.AddProperty(AttemptProperty(n, "status"), string(at.Outcome.Status))
		if at.Outcome.Reason != "" {
			tc.AddProperty(AttemptProperty(n, "reason"), at.Outcome.Reason)
		}
		if at.Outcome.Disrupted() {
			// true: the test ran again; exhausted: no infrastructure retry
			// was left, and the test ends as an infrastructure error.
			v := "true"
			if i == len(cr.Attempts)-1 {
				v = "exhausted"
			}
			tc.AddProperty(AttemptProperty(n, "infra-retry"), v)
		}
	}
	if len(cr.Attempts) < 2 {
		return
	}
	var b strings.Builder
	for i, at := range cr.Attempts {
		b.WriteString(AttemptLine(at, i == len(cr.Attempts)-1))
		b.WriteByte('\n')
	}
	if tc.SystemOut != nil && tc.SystemOut.Text != "" {
		b.WriteString("\n")
		b.WriteString(tc.SystemOut.Text)
	}
	tc.SystemOut = &junit.Output{Text: b.String()}
}

// AttemptLine is one attempt in one line: number, verdict, reason, pod
// and times, e.g. "k8s-testrun attempt 1: error PodDeleted (infrastructure
// retry) pod p on n, 2026-01-01T00:00:00.000Z to ...: the pod was deleted".
// last says no attempt followed it.
func AttemptLine(at attempt.Attempt, last bool) string {
	o := at.Outcome
	var b strings.Builder
	fmt.Fprintf(&b, "k8s-testrun attempt %d: %s", at.Number, o.Status)
	if o.Reason != "" {
		b.WriteString(" " + o.Reason)
	}
	switch {
	case o.Disrupted() && last:
		b.WriteString(" (infrastructure retries used up)")
	case o.Disrupted():
		b.WriteString(" (infrastructure retry)")
	}
	if at.Pod != "" {
		b.WriteString(" pod " + at.Pod)
		if at.Node != "" {
			b.WriteString(" on " + at.Node)
		}
	}
	if s, e := formatTime(at.Started), formatTime(at.Finished); s != "" || e != "" {
		fmt.Fprintf(&b, ", %s to %s", orDash(s), orDash(e))
	}
	if o.Reason != "" && o.Message != "" {
		msg, _, _ := strings.Cut(o.Message, "\n")
		b.WriteString(": " + msg)
	}
	return b.String()
}

// attemptRecord is one attempt in the attempts file.
type attemptRecord struct {
	N        int    `json:"n"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	Infra    bool   `json:"infra,omitempty"`
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
	Pod      string `json:"pod,omitempty"`
	Node     string `json:"node,omitempty"`
	ExitCode int32  `json:"exit"`
	Message  string `json:"message,omitempty"`
}

type caseRecord struct {
	Test string `json:"test"`
	// Base is the base image the test ran on, in a runtime matrix.
	Base     string          `json:"base,omitempty"`
	Status   string          `json:"status"`
	Attempts []attemptRecord `json:"attempts"`
}

// maxRecordMessage bounds an attempt's message in the attempts file; the
// full text is in the JUnit report.
const maxRecordMessage = 300

// WriteAttempts writes every attempt of every test as one JSON document:
// {"run": ..., "tests": [{"test", "base" (in a runtime matrix), "status", "attempts": [{"n", "status",
// "reason", "infra", "start", "end", "pod", "node", "exit", "message"}]}]}.
func (r *Report) WriteAttempts(w io.Writer) error {
	doc := struct {
		Run   string       `json:"run"`
		Tests []caseRecord `json:"tests"`
	}{Run: r.RunID, Tests: make([]caseRecord, 0, len(r.Cases))}
	for _, cr := range r.Cases {
		c := caseRecord{Test: cr.Case.TestID, Status: string(cr.Status), Attempts: make([]attemptRecord, 0, len(cr.Attempts))}
		if r.Matrix() && cr.Case.Base < len(r.Bases) {
			c.Base = r.Bases[cr.Case.Base].Ref
		}
		if len(cr.Attempts) == 0 {
			c.Status = "notrun"
		}
		for _, at := range cr.Attempts {
			msg := ""
			if at.Outcome.Reason != "" {
				msg, _, _ = strings.Cut(at.Outcome.Message, "\n")
				if len(msg) > maxRecordMessage {
					msg = strings.ToValidUTF8(msg[:maxRecordMessage], "") + "…"
				}
			}
			c.Attempts = append(c.Attempts, attemptRecord{
				N: at.Number, Status: string(at.Outcome.Status), Reason: at.Outcome.Reason, Infra: at.Outcome.Disrupted(),
				Start: formatTime(at.Started), End: formatTime(at.Finished), Pod: at.Pod, Node: at.Node,
				ExitCode: at.Outcome.ExitCode, Message: msg,
			})
		}
		doc.Tests = append(doc.Tests, c)
	}
	return json.NewEncoder(w).Encode(doc)
}
