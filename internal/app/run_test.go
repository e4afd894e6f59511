package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPeakRSS(t *testing.T) {
	rss, ok := peakRSS()
	require.True(t, ok, "/proc/self/status has VmHWM on Linux")
	assert.Greater(t, rss, int64(1<<20), "a Go test binary holds more than 1 MiB")
}
