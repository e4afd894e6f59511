package plan

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// PerAuto chooses the units from the timing history: see groupAuto.
const PerAuto = "auto"

// DefaultPodOverhead is the per-pod overhead PerAuto assumes when the
// history holds no measured figure: about what one pod costs beyond its
// tests' own time on a warm node (scheduling, sandbox and container start,
// pytest start-up, shipping the results), as measured for the discovery pod
// in bench B6 (about 2.7 s).
const DefaultPodOverhead = 3 * time.Second

// AutoOverheadShare is the share of a pod's time PerAuto lets the per-pod
// overhead take: a unit at least AutoThreshold long stays under it.
const AutoOverheadShare = 0.10

// AutoThreshold is the expected duration from which a test gets a pod of its
// own under PerAuto: the shortest run whose pod spends no more than
// AutoOverheadShare of its time on an overhead of that size.
func AutoThreshold(overhead time.Duration) time.Duration {
	if overhead <= 0 {
		overhead = DefaultPodOverhead
	}
	return time.Duration(float64(overhead) * (1 - AutoOverheadShare) / AutoOverheadShare)
}

// hasHistory reports whether any case has a duration in the history.
func hasHistory(cases []Case, durations map[string]time.Duration) bool {
	for _, c := range cases {
		if _, ok := durations[c.TestID]; ok {
			return true
		}
	}
	return false
}

// groupAuto groups the cases of one lane under PerAuto. Tests expected to
// take AutoThreshold or more get a pod each. The rest are packed by file, so
// that a module's fixtures stay shared: a file is cut, in collection order,
// only when it alone would take more than a slot's fair share of the run
// (the total over Slots). The files go, longest first, into as many units as
// keep the overhead under AutoOverheadShare (units of about the threshold),
// but never fewer than the slots the single tests leave free, so every slot
// has work to the end. Cases with different Faketime values never share a
// unit. Units come out longest first.
func groupAuto(cases []Case, est []time.Duration, g Grouping, prefix string) []Unit {
	threshold := AutoThreshold(g.Overhead)
	slots := max(g.Slots, 1)
	var total time.Duration
	for _, d := range est {
		total += d
	}
	var units []Unit
	var costs []time.Duration
	byFaketime := map[string][]int{}
	var values []string
	var rest time.Duration
	for i, c := range cases {
		if est[i] >= threshold {
			units = append(units, Unit{ID: c.ID, Cases: []string{c.ID}})
			costs = append(costs, est[i])
			continue
		}
		if _, ok := byFaketime[c.Faketime]; !ok {
			values = append(values, c.Faketime)
		}
		byFaketime[c.Faketime] = append(byFaketime[c.Faketime], i)
		rest += est[i]
	}
	free := max(slots-len(units), 1)
	fair := max(total/time.Duration(slots), 1)
	for _, v := range values {
		idx := byFaketime[v]
		var sum time.Duration
		for _, i := range idx {
			sum += est[i]
		}
		// This value's part of the bins, by its share of the packed time.
		want := max(int(sum/threshold), int(float64(free)*float64(sum)/float64(max(rest, 1))+0.5), 1)
		atoms := fileAtoms(cases, est, idx, fair)
		n := min(want, len(atoms))
		for _, b := range packAtoms(atoms, est, n) {
			u := Unit{ID: unitID(prefix + "auto:" + cases[b[0]].ID)}
			if len(b) == 1 {
				u.ID = cases[b[0]].ID
			}
			var cost time.Duration
			for _, i := range b {
				u.Cases = append(u.Cases, cases[i].ID)
				cost += est[i]
			}
			units = append(units, u)
			costs = append(costs, cost)
		}
	}
	return costliestFirst(units, costs)
}

// fileAtoms splits the cases idx (indexes into cases) by file, in order of
// first appearance, and cuts a file whose expected time is above limit into
// consecutive runs of about equal time, none above limit where one test
// allows it.
func fileAtoms(cases []Case, est []time.Duration, idx []int, limit time.Duration) [][]int {
	byFile := map[string]int{}
	var files [][]int
	for _, i := range idx {
		f := fileOf(cases[i].TestID)
		j, ok := byFile[f]
		if !ok {
			j = len(files)
			byFile[f] = j
			files = append(files, nil)
		}
		files[j] = append(files[j], i)
	}
	var atoms [][]int
	for _, f := range files {
		var sum time.Duration
		for _, i := range f {
			sum += est[i]
		}
		if sum <= limit {
			atoms = append(atoms, f)
			continue
		}
		parts := int((sum + limit - 1) / limit)
		cut := make([][]int, parts)
		var acc time.Duration
		for _, i := range f {
			// The part the test's midpoint falls in.
			k := min(int(float64(parts)*float64(acc+est[i]/2)/float64(sum)), parts-1)
			cut[k] = append(cut[k], i)
			acc += est[i]
		}
		for _, c := range cut {
			if len(c) > 0 {
				atoms = append(atoms, c)
			}
		}
	}
	return atoms
}

// packAtoms puts the atoms into n bins, longest atom first into the least
// loaded bin, and returns the non-empty bins with their case indexes in
// collection order.
func packAtoms(atoms [][]int, est []time.Duration, n int) [][]int {
	cost := make([]time.Duration, len(atoms))
	for a, atom := range atoms {
		for _, i := range atom {
			cost[a] += est[i]
		}
	}
	order := make([]int, len(atoms))
	for a := range order {
		order[a] = a
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(cost[b], cost[a]) })
	load := make([]time.Duration, n)
	bins := make([][]int, n)
	for _, a := range order {
		least := 0
		for b := 1; b < n; b++ {
			if load[b] < load[least] {
				least = b
			}
		}
		load[least] += cost[a]
		bins[least] = append(bins[least], atoms[a]...)
	}
	var out [][]int
	for _, b := range bins {
		if len(b) == 0 {
			continue
		}
		slices.Sort(b)
		out = append(out, b)
	}
	return out
}

// DescribeAuto is the one line a run under PerAuto reports: what it chose
// and why. measured says whether g.Overhead came from the history.
func DescribeAuto(cases []Case, g Grouping, units []Unit, measured bool) string {
	if !hasHistory(cases, g.Durations) {
		return fmt.Sprintf("pod per auto: no timing history for these tests, so one pod per file (%d %s)", len(units), plural(len(units), "pod"))
	}
	overhead := g.Overhead
	source := "measured"
	if !measured || overhead <= 0 {
		overhead = DefaultPodOverhead
		source = "default, the history holds no measured figure"
	}
	alone := 0
	byLane := map[string][]Case{}
	for _, c := range cases {
		byLane[c.Lane] = append(byLane[c.Lane], c)
	}
	for lane, lc := range byLane {
		if Exclusive(lane) {
			continue
		}
		for _, d := range estimates(lc, g.Durations) {
			if d >= AutoThreshold(overhead) {
				alone++
			}
		}
	}
	return fmt.Sprintf("pod per auto: tests expected over %s get a pod each (pod overhead %s, %s; at most %d%% of pod time), %d such; %d %s in all for %d slots",
		AutoThreshold(overhead).Round(100*time.Millisecond), overhead.Round(100*time.Millisecond), source,
		int(math.Round(AutoOverheadShare*100)), alone, len(units), plural(len(units), "pod"), max(g.Slots, 1))
}

func plural(n int, what string) string {
	if n == 1 {
		return what
	}
	return what + "s"
}
