package runner

import (
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// jumpClock is a fake clock on which every wait ends at once, the clock
// moved on by what was waited: a loop paced by it runs through its whole
// budget of waits without the test sleeping through them.
type jumpClock struct {
	*testingclock.FakeClock
}

func newJumpClock() jumpClock {
	return jumpClock{testingclock.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))}
}

func (c jumpClock) After(d time.Duration) <-chan time.Time {
	c.Step(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}
