package runner

import (
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// MemoryLimit is the Go heap's soft limit for a process that runs tests,
// unless GOMEMLIMIT sets one. A run of many tests makes much short-lived
// garbage (each decision walks every case), which the collector would
// otherwise let grow to twice the live heap. The limit is soft: a larger
// live heap costs collection time, not a failure.
const MemoryLimit = 80 << 20

// LimitMemory sets MemoryLimit unless getenv gives GOMEMLIMIT, and returns
// the function that restores the limit before it.
func LimitMemory(getenv func(string) string) (restore func()) {
	if getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	old := debug.SetMemoryLimit(MemoryLimit)
	return func() { debug.SetMemoryLimit(old) }
}

// PeakRSS is this process's peak resident set, VmHWM in /proc/self/status,
// in bytes. Not getrusage's maxrss: after a vfork and exec, Linux counts
// the parent's resident set at the exec into the child's.
func PeakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
