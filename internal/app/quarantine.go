package app

import (
	"errors"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
)

// checkQuarantine refuses, before any test pod, a quarantine entry that
// names none of the tests the bases' discovery collected: a typo there
// would leave a failing test unexcused, or a test id long gone in the file.
// Every such entry gets a line of its own.
func checkQuarantine(l *quarantine.List, bases []*base) error {
	if l == nil {
		return nil
	}
	var ids []string
	for _, b := range bases {
		ids = append(ids, b.found.IDs...)
	}
	var errs []error
	for _, e := range unjoin(l.Unmatched(ids)) {
		if e != nil {
			errs = append(errs, &config.Error{Input: "quarantine", Fix: e.Error()})
		}
	}
	return errors.Join(errs...)
}
