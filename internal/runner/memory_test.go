package runner

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	restore := LimitMemory(func(string) string { return "" })
	assert.Equal(t, int64(MemoryLimit), debug.SetMemoryLimit(-1))
	restore()
	assert.Equal(t, before, debug.SetMemoryLimit(-1))

	restore = LimitMemory(func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	})
	assert.Equal(t, before, debug.SetMemoryLimit(-1), "GOMEMLIMIT wins")
	restore()
}

func TestPeakRSS(t *testing.T) {
	rss, err := PeakRSS()
	require.NoError(t, err, "/proc/self/status has VmHWM on Linux")
	assert.Greater(t, rss, int64(1<<20), "a Go test binary holds more than 1 MiB")
}
