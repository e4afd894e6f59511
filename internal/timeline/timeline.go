// Package timeline draws where a run's time went: one lane per slot of
// parallelism, one bar per pod split into its phases (waiting to be
// scheduled, starting, testing, collecting), the testing part coloured by
// the pod's verdict. It writes a standalone SVG and a self-contained HTML
// page (the same SVG, hover titles, and a table of every pod and its
// tests) that needs no network.
//
// It takes its own small types rather than the runner's, so the drawing is
// tested from plain values.
package timeline

import (
	"cmp"
	"slices"
	"time"
)

// Verdicts a bar is coloured by, worst first.
const (
	Error   = "error"
	Failed  = "failed"
	Flaky   = "flaky"
	Skipped = "skipped"
	Passed  = "passed"
)

// Bar is one pod's life.
type Bar struct {
	Pod  string
	Node string
	// Tests are the test ids the pod ran.
	Tests   []string
	Attempt int
	Verdict string
	// Reason names an infrastructure cause, such as OOMKilled.
	Reason string
	// The phases' bounds; a zero time was not seen. Created and End bound
	// the bar.
	Created, Scheduled, TestStarted, TestExited, End time.Time
}

// Phase is one span of a bar.
type Phase struct {
	Name       string
	Start, End time.Time
}

// Phase names, in the order of a pod's life.
const (
	PhaseWaiting    = "waiting"
	PhaseStarting   = "starting"
	PhaseTesting    = "testing"
	PhaseCollecting = "collecting"
)

// Phases splits the bar into the phases whose bounds were seen. The API
// server's times have whole seconds while Created is this process's clock,
// so a pod created at x.9 s is "scheduled" at x s: no phase starts before
// the pod was created, or a chart would draw it before the first pod.
func (b Bar) Phases() []Phase {
	var out []Phase
	add := func(name string, from, to time.Time) {
		if !from.IsZero() && !to.IsZero() && to.After(from) {
			from = latest(from, b.Created)
		}
		if !from.IsZero() && !to.IsZero() && to.After(from) {
			out = append(out, Phase{Name: name, Start: from, End: to})
		}
	}
	scheduled := latest(b.Created, b.Scheduled)
	add(PhaseWaiting, b.Created, b.Scheduled)
	add(PhaseStarting, scheduled, b.TestStarted)
	add(PhaseTesting, b.TestStarted, b.TestExited)
	collectFrom := b.TestExited
	if collectFrom.IsZero() {
		collectFrom = latest(scheduled, b.TestStarted)
	}
	add(PhaseCollecting, collectFrom, b.End)
	return out
}

// slotFreed is when the pod gave up its slot: its test's exit, else its end.
func (b Bar) slotFreed() time.Time {
	if !b.TestExited.IsZero() && b.TestExited.Before(b.End) {
		return b.TestExited
	}
	return b.End
}

// Duration is the pod's life, as far as it was seen.
func (b Bar) Duration() time.Duration {
	if b.Created.IsZero() || !b.End.After(b.Created) {
		return 0
	}
	return b.End.Sub(b.Created)
}

// Chart is a run's bars.
type Chart struct {
	RunID string
	Bars  []Bar
}

// Lane is a row of bars that never overlap: a slot of parallelism that
// pods take in turn.
type Lane struct{ Bars []Bar }

// Lanes packs the timed bars into as few lanes as hold them, in the order
// the pods were created: each pod goes to the first lane whose last pod
// had given up its slot when it was created. A pod gives up its slot of
// parallelism when its test exits (the runner creates the next pod then,
// while the last one's results are collected), so a lane is a slot and
// the collecting tail of one pod may run under the start of the next.
func (c Chart) Lanes() []Lane {
	bars := c.timed()
	slices.SortStableFunc(bars, func(a, b Bar) int { return a.Created.Compare(b.Created) })
	var lanes []Lane
	for _, b := range bars {
		placed := false
		for i := range lanes {
			last := lanes[i].Bars[len(lanes[i].Bars)-1]
			if !b.Created.Before(last.slotFreed()) {
				lanes[i].Bars = append(lanes[i].Bars, b)
				placed = true
				break
			}
		}
		if !placed {
			lanes = append(lanes, Lane{Bars: []Bar{b}})
		}
	}
	return lanes
}

// timed are the bars with a creation and an end.
func (c Chart) timed() []Bar {
	var out []Bar
	for _, b := range c.Bars {
		if b.Duration() > 0 {
			out = append(out, b)
		}
	}
	return out
}

// Span is the first creation and the last end of the timed bars.
func (c Chart) Span() (time.Time, time.Time) {
	var start, end time.Time
	for _, b := range c.timed() {
		if start.IsZero() || b.Created.Before(start) {
			start = b.Created
		}
		if b.End.After(end) {
			end = b.End
		}
	}
	return start, end
}

// Totals adds up each phase over every bar.
func (c Chart) Totals() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, b := range c.Bars {
		for _, p := range b.Phases() {
			out[p.Name] += p.End.Sub(p.Start)
		}
	}
	return out
}

// Slowest are the n bars that lived longest, longest first.
func (c Chart) Slowest(n int) []Bar {
	bars := c.timed()
	slices.SortStableFunc(bars, func(a, b Bar) int { return cmp.Compare(b.Duration(), a.Duration()) })
	return bars[:min(n, len(bars))]
}

// Worse returns the worse of two verdicts.
func Worse(a, b string) string {
	rank := func(v string) int {
		return slices.Index([]string{Error, Failed, Flaky, Skipped, Passed}, v)
	}
	ra, rb := rank(a), rank(b)
	switch {
	case ra < 0:
		return b
	case rb < 0 || ra <= rb:
		return a
	default:
		return b
	}
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
