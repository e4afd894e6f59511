package app

import (
	"errors"
	"log/slog"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
)

// checkQuarantine refuses, before any test pod, a quarantine entry that
// names none of the tests the bases' discovery collected: a typo there
// would leave a failing test unexcused, or a test id long gone in the file.
// Every such entry gets a line of its own. A run given a selection
// (selected) collects only part of the project, and an entry may name a
// test outside it: there the entries that match nothing get one warning
// line instead.
func checkQuarantine(l *quarantine.List, bases []*base, selected bool, log *slog.Logger) error {
	if l == nil {
		return nil
	}
	var ids []string
	for _, b := range bases {
		ids = append(ids, b.found.IDs...)
	}
	if selected {
		if line := l.UnmatchedLine(ids); line != "" {
			log.Warn("quarantine: " + line)
		}
		return nil
	}
	var errs []error
	for _, e := range config.Unjoin(l.Unmatched(ids)) {
		if e != nil {
			errs = append(errs, &config.Error{Input: "quarantine", Fix: e.Error()})
		}
	}
	return errors.Join(errs...)
}

// excusedCases are the IDs of the cases whose failure the quarantine
// excuses at the run's start, judged as the report judges them, so that
// their failures do not count towards --max-failures. In a runtime matrix
// every base's case of an excused test is excused. Nil without a
// quarantine.
func excusedCases(l *quarantine.List, cases []plan.Case, started time.Time) map[string]bool {
	if l == nil {
		return nil
	}
	out := map[string]bool{}
	for _, c := range cases {
		if _, ok := l.Excuses(c.TestID, started); ok {
			out[c.ID] = true
		}
	}
	return out
}
