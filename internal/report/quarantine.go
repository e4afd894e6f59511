package report

import (
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
)

// PropertyQuarantined is the JUnit property of a failed or errored test
// whose failure a quarantine entry excused: its reason, until date and
// owner.
const PropertyQuarantined = "k8s-testrun.quarantined"

// Quarantined is the entry that excuses cr's failure or error: one that
// names the test and had not expired when the run started. A test that
// passed, was skipped or never ran needs no excuse.
func (r *Report) Quarantined(cr CaseResult) (quarantine.Entry, bool) {
	if r.Quarantine == nil || len(cr.Attempts) == 0 || (cr.Status != plan.Failed && cr.Status != plan.Error) {
		return quarantine.Entry{}, false
	}
	return r.Quarantine.Excuses(cr.Case.TestID, r.Started)
}

// ExpiredQuarantine are the quarantine entries past their date when the
// run started: they protect nothing, and each gets a warning.
func (r *Report) ExpiredQuarantine() []string {
	if r.Quarantine == nil {
		return nil
	}
	var out []string
	for _, e := range r.Quarantine.Expired(r.Started) {
		out = append(out, r.Quarantine.ExpiredLine(e))
	}
	return out
}
