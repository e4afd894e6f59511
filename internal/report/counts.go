package report

import "github.com/k8s-testrun/k8s-testrun/internal/plan"

// Counts are the per-status totals of a run's tests: of a Report, of the
// summary's cases, of a TestRun's status and of the live progress alike. A
// test that never finished (the run was cancelled, or stopped at its
// maximum of failures) counts as NotRun.
type Counts struct {
	Total, Passed, Failed, Errors, Skipped, Flaky, NotRun int
	// Stopped counts the NotRun tests that the run left out on purpose,
	// having reached its maximum of failures.
	Stopped int
	// Infra counts the errors with an infrastructure reason.
	Infra int
	// Quarantined counts the failed or errored tests a quarantine entry
	// excused; they count in neither Failed nor Errors.
	Quarantined int
	// NotAffected counts the tests --affected-since left out, reported
	// skipped in JUnit; they count apart from Skipped.
	NotAffected int
}

// Tally is what one test counts as.
type Tally struct {
	// Status is the verdict of the test's last attempt.
	Status plan.Status
	// NotRun marks a test that never ran; Stopped, one that the run left
	// out at its maximum of failures.
	NotRun, Stopped bool
	// Flaky marks a pass after a failure.
	Flaky bool
	// Infra marks an error with an infrastructure reason.
	Infra bool
	// Quarantined marks a failure or error a quarantine entry excused.
	Quarantined bool
	// NotAffected marks a test --affected-since left out.
	NotAffected bool
}

// Add counts one test. Every count of tests goes through it, so that a
// test counts the same wherever it is counted.
func (c *Counts) Add(t Tally) {
	c.Total++
	if t.NotRun {
		c.NotRun++
		if t.Stopped {
			c.Stopped++
		}
		return
	}
	if t.Quarantined {
		c.Quarantined++
		return
	}
	if t.NotAffected {
		c.NotAffected++
		return
	}
	switch t.Status {
	case plan.Passed:
		c.Passed++
	case plan.Failed:
		c.Failed++
	case plan.Error:
		c.Errors++
		if t.Infra {
			c.Infra++
		}
	case plan.Skipped:
		c.Skipped++
	}
	if t.Flaky {
		c.Flaky++
	}
}
