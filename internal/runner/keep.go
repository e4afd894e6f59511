package runner

import (
	"errors"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// keptError is a result error as a run keeps it until its report: the
// text, and the transport error it matches, if any, for errors.Is. The
// error as returned may wrap the API server's decoded status, about a
// kilobyte, which a run of many attempts would otherwise hold for each.
type keptError struct {
	msg string
	is  error
}

func (e *keptError) Error() string { return e.msg }
func (e *keptError) Unwrap() error { return e.is }

// keepError is err as a run keeps it; nil stays nil.
func keepError(err error) error {
	if err == nil {
		return nil
	}
	k := &keptError{msg: err.Error()}
	for _, known := range []error{transport.ErrNoBlock, transport.ErrTruncated, transport.ErrCorrupt} {
		if errors.Is(err, known) {
			k.is = known
			break
		}
	}
	return k
}
