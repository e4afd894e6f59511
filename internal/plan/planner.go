package plan

import (
	"slices"
	"sort"
)

// Planner is Next for a driver that evaluates one run many times, such as
// the runner's loop: it keeps what settled pods told it, so an evaluation
// costs the pods and cases in flight, not every case and pod of the run.
// Next is a Planner evaluated once; both decide alike.
//
// A pod that is Done, Collected, Deleting and Gone can change no decision
// any more: once a Planner has seen it collected, the driver may leave it
// out of later evaluations, and its outcomes still count. Leaving out any
// other pod means it no longer exists, as it does for Next.
//
// A Planner is not safe for concurrent use.
type Planner struct {
	spec                                   Spec
	parallelism, maxAttempts, infraRetries int
	ix                                     *index

	// caseAt is the index of each case's state in states.
	caseAt map[string]int
	states []caseState
	// wanting counts, for each unit of ix.units, the cases it runs that
	// call for another attempt; the units with some are linked in their
	// order through head, next and prev (-1 ends the list).
	wanting          []int
	next, prev       []int
	head             int
	linked           []bool
	wantPhase        [phases]int
	failed           int
	settled          map[string]bool
	settledLatest    map[string]int
	epoch            uint64
	stopped          bool
	pods             []Pod
	latest           map[string]int
	pendingCases     []int
	unitPendingAt    []uint64
	unitPending      []int
	createdCases     []Case
	collect, del, cr []Action
}

// phases is the count of phase's values.
const phases = 3

// caseState is what a Planner keeps of one case: the outcomes of its
// settled pods, and whether they call for another attempt.
type caseState struct {
	// c is the first of the spec's cases with this ID; n counts them.
	c     Case
	n     int
	phase int
	// unit is the index of the case's unit in ix.units, or -1.
	unit     int
	attempts []Outcome
	// numbers are the attempts' pods' numbers, ascending.
	numbers []int
	wants   bool
	// pendingAt and waitingAt are the evaluation (epoch) that last found
	// a pod of the case unsettled, and one the stopped run still waits for.
	pendingAt, waitingAt uint64
}

func (st *caseState) failing() bool {
	return !st.wants && len(st.attempts) > 0 && needsRetry(st.attempts[len(st.attempts)-1].Status)
}

// counts says whether the case's standing counts towards MaxFailures: a
// final failure that no quarantine excuses.
func (pl *Planner) counts(st *caseState) bool {
	return st.failing() && !pl.spec.Excused[st.c.ID]
}

// NewPlanner prepares the evaluations of spec. The spec's cases and units
// must not change afterwards.
func NewPlanner(spec Spec) *Planner {
	ix := spec.derive()
	pl := &Planner{
		spec:          spec,
		parallelism:   max(spec.Parallelism, 1),
		maxAttempts:   max(spec.MaxAttempts, 1),
		infraRetries:  max(spec.InfraRetries, 0),
		ix:            ix,
		caseAt:        make(map[string]int, len(spec.Cases)),
		wanting:       make([]int, len(ix.units)),
		next:          make([]int, len(ix.units)),
		prev:          make([]int, len(ix.units)),
		linked:        make([]bool, len(ix.units)),
		head:          -1,
		settled:       map[string]bool{},
		settledLatest: map[string]int{},
		latest:        map[string]int{},
		unitPendingAt: make([]uint64, len(ix.units)),
		unitPending:   make([]int, len(ix.units)),
	}
	unitAt := make(map[string]int, len(ix.units))
	for i := len(ix.units) - 1; i >= 0; i-- {
		unitAt[ix.units[i].ID] = i
	}
	for _, c := range spec.Cases {
		if i, ok := pl.caseAt[c.ID]; ok {
			pl.states[i].n++
			continue
		}
		unit := -1
		if i, ok := unitAt[ix.unitOf[c.ID]]; ok {
			unit = i
		}
		pl.caseAt[c.ID] = len(pl.states)
		pl.states = append(pl.states, caseState{c: c, n: 1, phase: phase(c.Lane), unit: unit})
	}
	for i := range pl.states {
		st := &pl.states[i]
		st.wants = pl.retry(i)
		pl.count(st, 1)
	}
	// Every unit that wants goes on the list, in order.
	last := -1
	for u := range ix.units {
		pl.next[u], pl.prev[u] = -1, -1
		if pl.wanting[u] == 0 {
			continue
		}
		pl.linked[u] = true
		pl.prev[u] = last
		if last < 0 {
			pl.head = u
		} else {
			pl.next[last] = u
		}
		last = u
	}
	return pl
}

// retry says whether case i calls for another attempt by its outcomes.
func (pl *Planner) retry(i int) bool {
	st := &pl.states[i]
	return CaseState{Attempts: st.attempts}.retry(attemptsOf(st.c, pl.maxAttempts, pl.spec.FlakyAttempts), pl.infraRetries)
}

// count adds (sign 1) or takes away (sign -1) the case's share of the
// counts that evaluations start from.
func (pl *Planner) count(st *caseState, sign int) {
	switch {
	case st.wants:
		pl.wantPhase[st.phase] += sign * st.n
		if st.unit >= 0 {
			pl.wanting[st.unit] += sign * st.n
		}
	case pl.counts(st):
		pl.failed += sign * st.n
	}
}

// absorb records the outcomes of a collected pod, once.
func (pl *Planner) absorb(p Pod) {
	pl.settled[p.Name] = true
	pl.settledLatest[p.CaseID] = max(pl.settledLatest[p.CaseID], p.Attempt)
	for _, id := range p.CaseIDs() {
		i, ok := pl.caseAt[id]
		if !ok {
			continue
		}
		o, ok := p.outcome(id)
		if !ok {
			continue
		}
		st := &pl.states[i]
		pl.count(st, -1)
		at := sort.Search(len(st.numbers), func(k int) bool { return st.numbers[k] > p.Attempt })
		st.numbers = slices.Insert(st.numbers, at, p.Attempt)
		st.attempts = slices.Insert(st.attempts, at, o)
		st.wants = pl.retry(i)
		pl.count(st, 1)
		if st.unit >= 0 {
			pl.relink(st.unit)
		}
	}
}

// relink puts unit u on the list of units that want, or takes it off.
func (pl *Planner) relink(u int) {
	switch {
	case pl.wanting[u] > 0 && !pl.linked[u]:
		// Rare: a final case wants again. Find the unit before it.
		before := u - 1
		for before >= 0 && !pl.linked[before] {
			before--
		}
		after := pl.head
		if before >= 0 {
			after = pl.next[before]
			pl.next[before] = u
		} else {
			pl.head = u
		}
		if after >= 0 {
			pl.prev[after] = u
		}
		pl.prev[u], pl.next[u], pl.linked[u] = before, after, true
	case pl.wanting[u] == 0 && pl.linked[u]:
		if pl.prev[u] >= 0 {
			pl.next[pl.prev[u]] = pl.next[u]
		} else {
			pl.head = pl.next[u]
		}
		if pl.next[u] >= 0 {
			pl.prev[pl.next[u]] = pl.prev[u]
		}
		pl.prev[u], pl.next[u], pl.linked[u] = -1, -1, false
	}
}

// Next evaluates the spec against the observed pods, as the function Next
// does, and leaves Decision.Cases nil: Cases gives them.
func (pl *Planner) Next(pods []Pod) Decision {
	pl.epoch++
	pods = pl.observe(pods)
	failures, nonFinal := pl.inFlight()
	// open is the earliest phase with a case that is not final: only its
	// units may get pods.
	open := -1
	for ph, n := range nonFinal {
		if n > 0 {
			open = ph
			break
		}
	}
	stopped := pl.spec.Stop || (pl.spec.MaxFailures > 0 && failures >= pl.spec.MaxFailures)
	pl.stopped = stopped

	active := pl.podActions(pods, stopped)
	done := pl.done(pods, stopped, nonFinal)
	free := pl.free(pods, active, open)
	create := pl.cr[:0]
	if !stopped && free > 0 {
		create = pl.creations(open, free, create)
	}
	pl.cr = create
	actions := make([]Action, 0, len(pl.collect)+len(pl.del)+len(create))
	actions = append(actions, pl.collect...)
	actions = append(actions, pl.del...)
	actions = append(actions, create...)
	return Decision{Actions: actions, Done: done, Stopped: stopped}
}

// observe takes in the pods of this evaluation, sorted by attempt: it
// absorbs the verdicts of those collected, and marks the cases of the
// others pending (pl.pendingCases).
func (pl *Planner) observe(pods []Pod) []Pod {
	epoch := pl.epoch
	pl.pods = append(pl.pods[:0], pods...)
	pods = pl.pods
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].Attempt < pods[j].Attempt })
	clear(pl.latest)
	pl.pendingCases = pl.pendingCases[:0]
	for _, p := range pods {
		pl.latest[p.CaseID] = max(pl.latest[p.CaseID], p.Attempt)
		if p.Done && p.Collected {
			if !pl.settled[p.Name] {
				pl.absorb(p)
			}
			continue
		}
		for _, id := range p.CaseIDs() {
			if i, ok := pl.caseAt[id]; ok && pl.states[i].pendingAt != epoch {
				pl.states[i].pendingAt = epoch
				pl.pendingCases = append(pl.pendingCases, i)
			}
		}
	}
	return pods
}

// inFlight counts the failures and, by phase, the cases not final, once
// the cases with a pod in flight are taken as neither final nor ready,
// whatever their outcomes say.
func (pl *Planner) inFlight() (failures int, nonFinal [phases]int) {
	failures, nonFinal = pl.failed, pl.wantPhase
	for _, i := range pl.pendingCases {
		st := &pl.states[i]
		if !st.wants {
			nonFinal[st.phase] += st.n
			if pl.counts(st) {
				failures -= st.n
			}
		}
	}
	return failures, nonFinal
}

// abandoned says a pod deleted before it finished, once stopped, is not
// collected: its end is the stop's doing, not its test's.
func abandoned(p Pod, stopped bool) bool { return stopped && p.Deleting && !p.Collected }

// podActions sets pl.collect and pl.del, the collections and deletions the
// pods want, and returns how many pods hold a slot.
func (pl *Planner) podActions(pods []Pod, stopped bool) (active int) {
	byID := pl.ix.byID
	collect, del := pl.collect[:0], pl.del[:0]
	for _, p := range pods {
		switch {
		case !p.Done && stopped && !p.Deleting:
			del = append(del, Action{Kind: Delete, Case: firstCase(byID, p), Attempt: p.Attempt, Pod: p.Name})
		case !p.Done:
			active++
		case !p.Collected && !abandoned(p, stopped):
			collect = append(collect, Action{Kind: Collect, Case: firstCase(byID, p), Attempt: p.Attempt, Pod: p.Name})
			if pl.spec.MaxFailures > 0 {
				// Its verdict may stop the run: the next pod waits for it.
				active++
			}
		case !p.Collected:
		case !p.Deleting:
			del = append(del, Action{Kind: Delete, Case: firstCase(byID, p), Attempt: p.Attempt, Pod: p.Name})
		}
	}
	pl.collect, pl.del = collect, del
	return active
}

// done says the run is over: stopped with no pod awaited (marking the cases
// of those awaited), or every case final.
func (pl *Planner) done(pods []Pod, stopped bool, nonFinal [phases]int) bool {
	if !stopped {
		for _, n := range nonFinal {
			if n > 0 {
				return false
			}
		}
		return true
	}
	// A stopped case is final unless a pod of it is still awaited.
	done := true
	for _, p := range pods {
		if p.Collected || abandoned(p, stopped) {
			continue
		}
		for _, id := range p.CaseIDs() {
			if i, ok := pl.caseAt[id]; ok {
				pl.states[i].waitingAt = pl.epoch
				done = false
			}
		}
	}
	return done
}

// free is how many pods may be created now, with active pods holding
// slots and open the phase whose units may get them.
func (pl *Planner) free(pods []Pod, active, open int) int {
	free := max(pl.parallelism-active, 0)
	if open > 0 {
		// An exclusive phase: one pod at a time, once every other pod of
		// the run is gone.
		free = min(free, 1)
		for _, p := range pods {
			if !p.Gone {
				return 0
			}
		}
	}
	return free
}

// creations appends to create the pods of the units with ready cases, in
// the units' order, up to free pods. It visits only the units that want.
func (pl *Planner) creations(open, free int, create []Action) []Action {
	epoch := pl.epoch
	for _, i := range pl.pendingCases {
		st := &pl.states[i]
		if !st.wants || st.unit < 0 {
			continue
		}
		if pl.unitPendingAt[st.unit] != epoch {
			pl.unitPendingAt[st.unit], pl.unitPending[st.unit] = epoch, 0
		}
		pl.unitPending[st.unit] += st.n
	}
	for u := pl.head; u >= 0 && len(create) < free; u = pl.next[u] {
		unit := pl.ix.units[u]
		if len(unit.Cases) > 0 {
			// Units come in the order of their phases.
			ph := phase(pl.ix.byID[unit.Cases[0]].Lane)
			if ph > open {
				break
			}
			if ph != open {
				continue
			}
		}
		if pl.unitPendingAt[u] == epoch && pl.unitPending[u] >= pl.wanting[u] {
			continue
		}
		var cases []Case
		for _, id := range unit.Cases {
			i, ok := pl.caseAt[id]
			if !ok || pl.ix.unitOf[id] != unit.ID {
				continue
			}
			if st := &pl.states[i]; st.wants && st.pendingAt != epoch {
				cases = append(cases, pl.ix.byID[id])
			}
		}
		if len(cases) == 0 {
			continue
		}
		attempt := max(pl.settledLatest[unit.ID], pl.latest[unit.ID]) + 1
		create = append(create, Action{Kind: Create, Case: cases[0], Cases: cases, Unit: unit.ID, Attempt: attempt})
	}
	return create
}

// Cases are the standing of every case of the spec, in its order, as of
// the last evaluation.
func (pl *Planner) Cases() []CaseState {
	out := make([]CaseState, 0, len(pl.spec.Cases))
	for _, c := range pl.spec.Cases {
		st := &pl.states[pl.caseAt[c.ID]]
		cs := CaseState{Case: c, Attempts: slices.Clone(st.attempts)}
		cs.Final = st.pendingAt != pl.epoch && !st.wants
		if pl.stopped && !cs.Final && st.waitingAt != pl.epoch {
			cs.Final, cs.Stopped = true, true
		}
		out = append(out, cs)
	}
	return out
}
