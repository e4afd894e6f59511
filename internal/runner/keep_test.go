package runner

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

func TestKeepError(t *testing.T) {
	assert.NoError(t, keepError(nil))

	api := fmt.Errorf("reading log of p/collector: %w", apierrors.NewInternalError(errors.New("dial tcp 127.0.0.1:1: connect: connection refused")))
	kept := keepError(api)
	assert.Equal(t, api.Error(), kept.Error())
	var status *apierrors.StatusError
	assert.False(t, errors.As(kept, &status), "the API status is not kept")
	assert.NoError(t, errors.Unwrap(kept))

	for _, known := range []error{transport.ErrNoBlock, transport.ErrTruncated, transport.ErrCorrupt} {
		kept := keepError(fmt.Errorf("parsing results: %w", known))
		assert.ErrorIs(t, kept, known)
		assert.Equal(t, "parsing results: "+known.Error(), kept.Error())
	}
}
