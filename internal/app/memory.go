package app

import (
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The garbage collector's settings are the process's, so the command sets
// them, as it owns the environment, signals and exit code; the runner and
// the operator are libraries that only allocate.

// MemoryLimit is the Go heap's soft limit for a process that runs tests,
// unless GOMEMLIMIT sets one. The limit is soft: a larger live heap costs
// collection time, not a failure.
const MemoryLimit = 80 << 20

// GCPercent is the collector's target for a process that runs tests,
// unless GOGC sets one: the heap grows by half its live size between
// collections, not by all of it. A run keeps a record of every attempt and
// makes little other garbage (about 3 GB over a run of 10,000 cases on a
// fake node), so collecting twice as often costs little CPU, and the peak
// follows the live heap more closely.
const GCPercent = 50

// OperatorMemoryLimit is the operator's soft limit, unless GOMEMLIMIT sets
// one. Its cache holds every TestCase of the runs it reconciles (10,000
// for a large run), so its live heap is larger than a run's; the limit
// keeps the garbage it lets grow on top of that in check, well below the
// Deployment's hard limit (512Mi). Its collector's target stays Go's
// default (OperatorGCPercent): below the limit, the operator collects no
// more often than Go would, and leaves the CPU to the API server.
const (
	OperatorMemoryLimit = 128 << 20
	OperatorGCPercent   = 100
)

// LimitMemory sets MemoryLimit unless getenv gives GOMEMLIMIT, and
// GCPercent unless it gives GOGC, and returns the function that restores
// what was set before.
func LimitMemory(getenv func(string) string) (restore func()) {
	return LimitMemoryTo(getenv, MemoryLimit, GCPercent)
}

// LimitMemoryTo is LimitMemory with limit for MemoryLimit and gcPercent for
// GCPercent.
func LimitMemoryTo(getenv func(string) string, limit int64, gcPercent int) (restore func()) {
	var undo []func()
	if getenv("GOMEMLIMIT") == "" {
		old := debug.SetMemoryLimit(limit)
		undo = append(undo, func() { debug.SetMemoryLimit(old) })
	}
	if getenv("GOGC") == "" {
		old := debug.SetGCPercent(gcPercent)
		undo = append(undo, func() { debug.SetGCPercent(old) })
	}
	return func() {
		for _, f := range undo {
			f()
		}
	}
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
