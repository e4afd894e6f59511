//go:build race

package transport

// raceEnabled says the tests run under the race detector, whose runtime
// allocates on its own account (sync.Pool drops items on purpose).
const raceEnabled = true
