package attempt

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// ReasonNoResult is the reason of a test that a unit's pod ran, or should
// have, but for which pytest reported nothing.
const ReasonNoResult = "NoResult"

// SettleUnit gives each case of a unit's pod its attempt, from the pod's
// attempt (its own outcome and what the collector shipped). A case that
// finished gets pytest's verdict on it; the test running when the pod died
// gets the pod's outcome (OOMKilled, DeadlineExceeded, ...), or
// DeadlineExceeded when the shim stopped it at its timeout; a case the pod
// never reached is left out, so it runs again in a fresh pod. When the pod
// ended on its own (pytest exited) a case it did not report is an error, so
// that no case is queued again forever.
func SettleUnit(pod Attempt, cases []plan.Case, timeout time.Duration) map[string]Attempt {
	out := make(map[string]Attempt, len(cases))
	res := pod.Results
	attempt := func(o plan.Outcome, r Results, start, stop time.Time) Attempt {
		return Attempt{Pod: pod.Pod, PodUID: pod.PodUID, Node: pod.Node, Outcome: o, Started: start, Finished: stop, Results: r, ResultErr: pod.ResultErr}
	}
	session := Results{Output: res.Output, ExitCode: res.ExitCode, Artifacts: res.Artifacts, Truncated: res.Truncated}
	if pod.ResultErr != nil || (len(res.Cases) == 0 && res.Running == "" && res.TimedOut == "") {
		// Nothing tells case by case: each case shares the pod's fate.
		o := pod.Outcome
		if o.Reason == "" && o.Status != plan.Passed {
			o = plan.Outcome{Status: plan.Error, ExitCode: o.ExitCode, Reason: ReasonNoResult,
				Message: fmt.Sprintf("pytest exited with code %d and reported no result for this test", o.ExitCode)}
			if pod.ResultErr != nil {
				o.Message += ": " + pod.ResultErr.Error()
			}
		}
		for _, c := range cases {
			out[c.ID] = attempt(o, session, pod.Started, pod.Finished)
		}
		return out
	}
	died := pod.Outcome.Reason != "" && !strings.HasPrefix(pod.Outcome.Reason, "PytestExit") && pod.Outcome.Reason != "NoTestCollected"
	failedCase := false
	for _, c := range cases {
		rep, ok := res.Cases[c.TestID]
		switch {
		case ok && rep.Testcase != nil:
			o := caseOutcome(*rep.Testcase)
			r := Results{Testcase: rep.Testcase, Output: testOutput(*rep.Testcase), ExitCode: res.ExitCode}
			failedCase = failedCase || o.Status == plan.Failed || o.Status == plan.Error
			out[c.ID] = attempt(o, r, rep.Start, rep.Stop)
		case c.TestID == res.TimedOut:
			o := plan.Outcome{Status: plan.Error, ExitCode: -1, Reason: k8s.ReasonDeadlineExceeded,
				Message: fmt.Sprintf("test did not finish within the timeout of %s", timeout)}
			out[c.ID] = attempt(o, session, time.Time{}, pod.Finished)
		case c.TestID == res.Running && died:
			out[c.ID] = attempt(pod.Outcome, session, time.Time{}, pod.Finished)
		case !died:
			o := plan.Outcome{Status: plan.Error, ExitCode: pod.Outcome.ExitCode, Reason: ReasonNoResult,
				Message: fmt.Sprintf("pytest exited with code %d and reported no result for this test", pod.Outcome.ExitCode)}
			if c.TestID == res.Running {
				o.Message = fmt.Sprintf("pytest exited with code %d during this test", pod.Outcome.ExitCode)
			}
			out[c.ID] = attempt(o, session, time.Time{}, pod.Finished)
		}
	}
	// The pod's artifacts go with the tests that need a look: those that
	// failed or died.
	if len(res.Artifacts) > 0 {
		for id, at := range out {
			if at.Outcome.Status == plan.Failed || at.Outcome.Status == plan.Error || !failedCase {
				at.Results.Artifacts = res.Artifacts
				out[id] = at
			}
		}
	}
	return out
}

// caseOutcome is pytest's verdict on one test, from its JUnit entry.
func caseOutcome(tc junit.Testcase) plan.Outcome {
	var o plan.Outcome
	switch tc.Status() {
	case plan.Failed:
		o = plan.Outcome{Status: plan.Failed, ExitCode: 1}
	case plan.Error:
		o = plan.Outcome{Status: plan.Error, ExitCode: 1}
	case plan.Skipped:
		o = plan.Outcome{Status: plan.Skipped}
	default:
		o = plan.Outcome{Status: plan.Passed}
	}
	if d := tc.Detail(); d != nil {
		o.Message = d.Message
	}
	return o
}

// testOutput is what pytest captured of one test (junit_logging=all), with
// the empty sections pytest writes for tests that printed nothing left out.
func testOutput(tc junit.Testcase) string {
	var b strings.Builder
	for _, o := range []*junit.Output{tc.SystemOut, tc.SystemErr} {
		if o == nil {
			continue
		}
		for _, sec := range sections(o.Text) {
			b.WriteString(sec)
			if !strings.HasSuffix(sec, "\n") {
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// captureHeader matches pytest's section headers in JUnit output, such as
// "----- Captured Out -----".
var captureHeader = regexp.MustCompile(`(?m)^-+ Captured [A-Za-z ]+ -+\n`)

// sections splits captured output at pytest's headers and keeps the
// sections with something in them, each with its header.
func sections(text string) []string {
	idx := captureHeader.FindAllStringIndex(text, -1)
	if len(idx) == 0 {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		return []string{text}
	}
	var out []string
	if strings.TrimSpace(text[:idx[0][0]]) != "" {
		out = append(out, text[:idx[0][0]])
	}
	for i, m := range idx {
		end := len(text)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		if strings.TrimSpace(text[m[1]:end]) != "" {
			out = append(out, text[m[0]:end])
		}
	}
	return out
}

// CaseResults are what a unit pod's results say of one test that finished
// in it: its own JUnit entry and captured output, as SettleUnit gives it,
// with the block's artifacts. ok is false when they hold no entry for it.
func CaseResults(res Results, testID string) (Results, bool) {
	rep, ok := res.Cases[testID]
	if !ok || rep.Testcase == nil {
		return Results{}, false
	}
	return Results{Testcase: rep.Testcase, Output: testOutput(*rep.Testcase), ExitCode: res.ExitCode, Artifacts: res.Artifacts, Truncated: res.Truncated}, true
}
