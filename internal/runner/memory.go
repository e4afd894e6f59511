package runner

import "runtime/debug"

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
