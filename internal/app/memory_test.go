package app

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	gcBefore := debug.SetGCPercent(100)
	defer debug.SetGCPercent(gcBefore)
	restore := LimitMemory(func(string) string { return "" })
	assert.Equal(t, int64(MemoryLimit), debug.SetMemoryLimit(-1))
	assert.Equal(t, GCPercent, debug.SetGCPercent(GCPercent))
	restore()
	assert.Equal(t, before, debug.SetMemoryLimit(-1))
	assert.Equal(t, 100, debug.SetGCPercent(100))

	restore = LimitMemory(func(k string) string {
		switch k {
		case "GOMEMLIMIT":
			return "1GiB"
		case "GOGC":
			return "200"
		}
		return ""
	})
	assert.Equal(t, before, debug.SetMemoryLimit(-1), "GOMEMLIMIT wins")
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC wins")
	restore()

	debug.SetGCPercent(GCPercent)
	restore = LimitMemoryTo(func(string) string { return "" }, OperatorMemoryLimit, OperatorGCPercent)
	assert.Equal(t, int64(OperatorMemoryLimit), debug.SetMemoryLimit(-1))
	assert.Equal(t, OperatorGCPercent, debug.SetGCPercent(OperatorGCPercent))
	restore()
	assert.Equal(t, before, debug.SetMemoryLimit(-1))
	assert.Equal(t, GCPercent, debug.SetGCPercent(100), "restored")
}

func TestPeakRSS(t *testing.T) {
	rss, err := PeakRSS()
	require.NoError(t, err, "/proc/self/status has VmHWM on Linux")
	assert.Greater(t, rss, int64(1<<20), "a Go test binary holds more than 1 MiB")
}
