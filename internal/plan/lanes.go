package plan

import (
	"slices"
)

// Lanes are execution policies a test takes from its pytest markers. They
// follow the conformance tags [Serial], [Slow], [Flaky] and [Disruptive].
const (
	// LaneDefault is a test with no lane marker: it runs in parallel.
	LaneDefault = ""
	// LaneSerial: the test's pod runs with no other test pod of the run
	// alive (created, running or terminating), after the parallel tests.
	LaneSerial = "serial"
	// LaneSlow: a longer timeout, and its pods start first.
	LaneSlow = "slow"
	// LaneFlaky: retried up to Spec.FlakyAttempts even without retries.
	LaneFlaky = "flaky"
	// LaneDisruptive: alone like serial, and last, after the serial tests.
	LaneDisruptive = "disruptive"
)

// LanePolicies are the lanes a marker can be mapped to, in the order a test
// with several of their markers picks one: the first that applies.
var LanePolicies = []string{LaneDisruptive, LaneSerial, LaneSlow, LaneFlaky}

// DefaultLaneMarkers maps each lane to the marker of its own name.
func DefaultLaneMarkers() map[string][]string {
	m := make(map[string][]string, len(LanePolicies))
	for _, l := range LanePolicies {
		m[l] = []string{l}
	}
	return m
}

// LaneOf is the lane of a test with the given marker names, under mapping
// (lane -> marker names; a lane missing from it keeps its default marker).
// A test with markers of several lanes takes the first of LanePolicies.
func LaneOf(markers []string, mapping map[string][]string) string {
	if len(markers) == 0 {
		return LaneDefault
	}
	for _, lane := range LanePolicies {
		names, ok := mapping[lane]
		if !ok {
			names = []string{lane}
		}
		for _, n := range names {
			if slices.Contains(markers, n) {
				return lane
			}
		}
	}
	return LaneDefault
}

// Exclusive reports a lane whose pods run alone.
func Exclusive(lane string) bool { return lane == LaneSerial || lane == LaneDisruptive }

// phase orders the run: the parallel lanes first, then serial, then
// disruptive. No pod of a later phase is created while a case of an
// earlier one is not final.
func phase(lane string) int {
	switch lane {
	case LaneSerial:
		return 1
	case LaneDisruptive:
		return 2
	}
	return 0
}

// startRank orders the units: slow ones start first, then the other
// parallel ones, then serial, then disruptive.
func startRank(lane string) int {
	switch lane {
	case LaneSlow:
		return 0
	case LaneSerial:
		return 2
	case LaneDisruptive:
		return 3
	}
	return 1
}
