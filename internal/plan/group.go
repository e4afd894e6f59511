package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// What one pod runs.
const (
	PerTest  = "test"
	PerClass = "class"
	PerFile  = "file"
)

// Grouping says how cases become units.
type Grouping struct {
	// PodPer is PerTest (the default), PerClass, PerFile or PerAuto.
	PodPer string
	// Slots is the run's parallelism; PerAuto makes enough units to keep
	// them busy. Zero counts as one.
	Slots int
	// Overhead is the per-pod overhead measured in earlier runs, which sets
	// PerAuto's threshold; zero means DefaultPodOverhead.
	Overhead time.Duration
	// Shards, above 0, splits the cases into that many units instead,
	// balanced by duration (longest processing time first).
	Shards int
	// Durations are the tests' durations in earlier runs, by test ID. They
	// order the units, slowest first, and balance the shards. A test with
	// none counts as the mean of those that have one, so tests with no
	// history spread evenly.
	Durations map[string]time.Duration
}

// Group turns cases into units, in the order they should start. Cases
// with different Faketime values never share a unit: a class or file is
// split by value, and shards hold the cases of the most common value while
// every other value gets a unit of its own.
//
// Cases of different lanes never share a unit either: each case of an
// exclusive lane (serial, disruptive) is a unit of its own, and the other
// lanes are grouped (or sharded, each lane into at most Shards units) apart.
// Units come out by lane: slow, default, flaky, serial, disruptive.
//
// PerAuto with no history for any of the cases groups by file.
func Group(cases []Case, g Grouping) []Unit {
	if g.PodPer == PerAuto && !hasHistory(cases, g.Durations) {
		g.PodPer = PerFile
	}
	byLane := map[string][]Case{}
	for _, c := range cases {
		byLane[c.Lane] = append(byLane[c.Lane], c)
	}
	if len(byLane[LaneDefault]) == len(cases) {
		return groupLane(cases, g, "")
	}
	var units []Unit
	for _, lane := range []string{LaneSlow, LaneDefault, LaneFlaky, LaneSerial, LaneDisruptive} {
		lc := byLane[lane]
		if len(lc) == 0 {
			continue
		}
		if Exclusive(lane) {
			for _, c := range lc {
				units = append(units, Unit{ID: c.ID, Cases: []string{c.ID}})
			}
			continue
		}
		prefix := ""
		if lane != LaneDefault {
			prefix = lane + "-"
		}
		units = append(units, groupLane(lc, g, prefix)...)
	}
	return units
}

// groupLane groups the cases of one lane; prefix starts the IDs of its
// shards and keys its file and class units, so that lanes never share one.
func groupLane(cases []Case, g Grouping, prefix string) []Unit {
	est := estimates(cases, g.Durations)
	if g.Shards > 0 {
		units := shardByFaketime(cases, est, g.Shards)
		if prefix != "" {
			for i := range units {
				if strings.HasPrefix(units[i].ID, "shard-") {
					units[i].ID = prefix + units[i].ID
				}
			}
		}
		return units
	}
	if g.PodPer == PerAuto {
		return groupAuto(cases, est, g, prefix)
	}
	var units []Unit
	var costs []time.Duration
	index := map[string]int{}
	for i, c := range cases {
		key := c.ID
		switch g.PodPer {
		case PerFile:
			key = "file:" + fileOf(c.TestID)
		case PerClass:
			key = "class:" + classOf(c.TestID)
		}
		if key != c.ID && prefix != "" {
			key = prefix + key
		}
		if key != c.ID && c.Faketime != "" {
			key += "\x00faketime:" + c.Faketime
		}
		j, ok := index[key]
		if !ok {
			j = len(units)
			index[key] = j
			id := c.ID
			if key != c.ID {
				id = unitID(key)
			}
			units = append(units, Unit{ID: id})
			costs = append(costs, 0)
		}
		units[j].Cases = append(units[j].Cases, c.ID)
		costs[j] += est[i]
	}
	return costliestFirst(units, costs)
}

// estimates gives each case its expected duration.
func estimates(cases []Case, durations map[string]time.Duration) []time.Duration {
	var sum time.Duration
	known := 0
	for _, c := range cases {
		if d, ok := durations[c.TestID]; ok {
			sum += d
			known++
		}
	}
	mean := time.Second
	if known > 0 {
		mean = sum / time.Duration(known)
	}
	est := make([]time.Duration, len(cases))
	for i, c := range cases {
		d, ok := durations[c.TestID]
		if !ok {
			d = mean
		}
		est[i] = d
	}
	return est
}

// shardByFaketime shards the cases that share the most common Faketime
// value (the run's own, when markers are the exception) and gives each
// other value one unit, ordered with the shards by cost.
func shardByFaketime(cases []Case, est []time.Duration, n int) []Unit {
	count := map[string]int{}
	var values []string
	for _, c := range cases {
		if count[c.Faketime] == 0 {
			values = append(values, c.Faketime)
		}
		count[c.Faketime]++
	}
	if len(values) == 1 {
		return shard(cases, est, n)
	}
	common := values[0]
	for _, v := range values {
		if count[v] > count[common] {
			common = v
		}
	}
	var shardCases []Case
	var shardEst []time.Duration
	others := map[string]int{}
	var units []Unit
	var costs []time.Duration
	for i, c := range cases {
		if c.Faketime == common {
			shardCases = append(shardCases, c)
			shardEst = append(shardEst, est[i])
			continue
		}
		j, ok := others[c.Faketime]
		if !ok {
			j = len(units)
			others[c.Faketime] = j
			units = append(units, Unit{ID: unitID("faketime:" + c.Faketime)})
			costs = append(costs, 0)
		}
		units[j].Cases = append(units[j].Cases, c.ID)
		costs[j] += est[i]
	}
	estOf := make(map[string]time.Duration, len(shardCases))
	for i, c := range shardCases {
		estOf[c.ID] = shardEst[i]
	}
	for _, u := range shard(shardCases, shardEst, n) {
		var cost time.Duration
		for _, id := range u.Cases {
			cost += estOf[id]
		}
		units = append(units, u)
		costs = append(costs, cost)
	}
	return costliestFirst(units, costs)
}

// shard assigns the cases to n units by longest processing time first: the
// slowest case goes to the least loaded unit. Within a unit, cases keep
// their collection order, so tests that share a module's fixtures stay
// together. Units come out slowest first; empty ones are left out.
func shard(cases []Case, est []time.Duration, n int) []Unit {
	order := make([]int, len(cases))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(est[b], est[a]) })
	load := make([]time.Duration, n)
	members := make([][]int, n)
	for _, i := range order {
		least := 0
		for s := 1; s < n; s++ {
			if load[s] < load[least] {
				least = s
			}
		}
		load[least] += est[i]
		members[least] = append(members[least], i)
	}
	var units []Unit
	var costs []time.Duration
	for s := range n {
		if len(members[s]) == 0 {
			continue
		}
		slices.Sort(members[s])
		u := Unit{ID: fmt.Sprintf("shard-%d", s+1)}
		for _, i := range members[s] {
			u.Cases = append(u.Cases, cases[i].ID)
		}
		units = append(units, u)
		costs = append(costs, load[s])
	}
	return costliestFirst(units, costs)
}

// fileOf is the file part of a pytest node ID.
func fileOf(testID string) string {
	file, _, _ := strings.Cut(testID, "::")
	return file
}

// classOf is the node ID of the class that holds a test, or its file for a
// module-level function. Parameters ("[...]") may hold anything, so they
// are cut first.
func classOf(testID string) string {
	base := testID
	if i := strings.Index(base, "["); i >= 0 {
		base = base[:i]
	}
	if i := strings.LastIndex(base, "::"); i >= 0 {
		return base[:i]
	}
	return base
}

// unitID is a label-safe name for a file or class unit.
func unitID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "u" + hex.EncodeToString(sum[:])[:11]
}

// costliestFirst orders units by their costs, highest first; units of
// equal cost keep their order.
func costliestFirst(units []Unit, costs []time.Duration) []Unit {
	order := make([]int, len(units))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(costs[b], costs[a]) })
	out := make([]Unit, len(units))
	for i, j := range order {
		out[i] = units[j]
	}
	return out
}

// GroupBases is Group for a runtime matrix (cases of several Base values):
// the cases of each base are grouped apart, never sharing a unit, and the
// bases' units take turns, so that every base runs from the start. The
// units of a base past the first are named "b<base>-<unit>". With one base
// it is Group.
func GroupBases(cases []Case, g Grouping) []Unit {
	byBase := map[int][]Case{}
	var order []int
	for _, c := range cases {
		if _, ok := byBase[c.Base]; !ok {
			order = append(order, c.Base)
		}
		byBase[c.Base] = append(byBase[c.Base], c)
	}
	if len(order) <= 1 {
		return Group(cases, g)
	}
	per := make([][]Unit, len(order))
	longest := 0
	for i, b := range order {
		units := Group(byBase[b], g)
		for j, u := range units {
			alone := len(u.Cases) == 1 && u.ID == u.Cases[0]
			if b != 0 && !alone {
				units[j].ID = fmt.Sprintf("b%d-%s", b, u.ID)
			}
		}
		per[i] = units
		longest = max(longest, len(units))
	}
	out := make([]Unit, 0, len(cases))
	for j := range longest {
		for i := range per {
			if j < len(per[i]) {
				out = append(out, per[i][j])
			}
		}
	}
	return out
}
