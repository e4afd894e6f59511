package history

import (
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// TestsOf is the report as the store keeps it: one test per case, a
// runtime matrix's cases told apart by their base.
func TestsOf(rep *report.Report) []Test {
	cases := rep.SummaryCases()
	out := make([]Test, 0, len(cases))
	for _, c := range cases {
		out = append(out, TestOf(c))
	}
	return out
}

// TestOf is one case of a report as the store keeps it.
func TestOf(c report.Case) Test {
	t := Test{ID: c.TestID, Duration: c.Duration, Attempts: c.Attempts, Flaky: c.Flaky}
	if c.Base != "" {
		t.ID += " @" + c.Base
	}
	switch {
	case c.NotRun:
		t.Verdict = VerdictNotRun
	case c.Quarantined != "":
		t.Verdict = VerdictQuarantined
	case c.Status == junit.StatusPassed:
		t.Verdict = VerdictPassed
	case c.Status == junit.StatusFailed:
		t.Verdict = VerdictFailed
	case c.Status == junit.StatusError:
		t.Verdict = VerdictError
	default:
		t.Verdict = VerdictSkipped
	}
	for _, d := range c.Disruptions {
		t.Reasons = append(t.Reasons, d.Reason)
	}
	if c.Reason != "" {
		t.Reasons = append(t.Reasons, c.Reason)
	}
	return t
}
