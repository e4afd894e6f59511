package plan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func laneCase(id, lane string) Case {
	return Case{ID: id, TestID: "t.py::" + id, Lane: lane}
}

func TestLaneOf(t *testing.T) {
	mapping := map[string][]string{LaneSerial: {"serial", "db_migration"}, LaneSlow: {"long"}}
	for _, tc := range []struct {
		markers []string
		want    string
	}{
		{nil, LaneDefault},
		{[]string{"parametrize"}, LaneDefault},
		{[]string{"db_migration"}, LaneSerial},
		{[]string{"long"}, LaneSlow},
		// A lane mapped to other names no longer takes its own.
		{[]string{"slow"}, LaneDefault},
		// Lanes missing from the mapping keep their default marker.
		{[]string{"flaky"}, LaneFlaky},
		{[]string{"flaky", "long", "disruptive", "serial"}, LaneDisruptive},
		{[]string{"flaky", "serial"}, LaneSerial},
		{[]string{"flaky", "long"}, LaneSlow},
	} {
		assert.Equal(t, tc.want, LaneOf(tc.markers, mapping), "markers %v", tc.markers)
	}
	assert.Equal(t, LaneSerial, LaneOf([]string{"serial"}, DefaultLaneMarkers()))
}

// sim drives Next as a runner would, one step at a time: each step
// evaluates, creates the pods decided, then moves one pod on by one state
// (running -> done -> collected -> deleting -> gone), oldest first, and
// records which pods exist. outcome gives a collected pod's outcome.
type sim struct {
	t       *testing.T
	spec    Spec
	pods    []Pod
	created []Action
	// alive snapshots, after each step, the pods that exist, by case.
	alive   [][]string
	outcome func(p Pod) Outcome
}

func (s *sim) run() Decision {
	s.spec.Prepare()
	for step := 0; step < 10000; step++ {
		d := Next(s.spec, s.pods)
		for _, a := range d.Actions {
			switch a.Kind {
			case Create:
				s.created = append(s.created, a)
				s.pods = append(s.pods, Pod{Name: fmt.Sprintf("%s-%d", a.Unit, a.Attempt), CaseID: a.Unit, Attempt: a.Attempt, Cases: caseIDs(a.Cases)})
			case Collect:
				for i := range s.pods {
					if s.pods[i].Name == a.Pod {
						s.pods[i].Collected = true
						s.pods[i].Outcome = s.outcome(s.pods[i])
					}
				}
			case Delete:
				for i := range s.pods {
					if s.pods[i].Name == a.Pod {
						s.pods[i].Deleting = true
					}
				}
			}
		}
		if d.Done && s.allGone() {
			return d
		}
		s.advance()
		var alive []string
		running := 0
		for _, p := range s.pods {
			if !p.Gone {
				alive = append(alive, p.CaseID)
			}
			if !p.Done {
				running++
			}
		}
		assert.LessOrEqual(s.t, running, max(s.spec.Parallelism, 1), "parallelism")
		s.alive = append(s.alive, alive)
	}
	s.t.Fatal("the run never ended")
	return Decision{}
}

func (s *sim) allGone() bool {
	for _, p := range s.pods {
		if !p.Gone {
			return false
		}
	}
	return true
}

// advance ends the oldest running pod, or makes the oldest deleted pod
// gone: a pod terminates some time after its deletion.
func (s *sim) advance() {
	for i := range s.pods {
		p := &s.pods[i]
		switch {
		case p.Deleting && !p.Gone:
			p.Gone = true
			return
		case !p.Done:
			p.Done = true
			return
		}
	}
}

func caseIDs(cases []Case) []string {
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = c.ID
	}
	return ids
}

func laneRun() []Case {
	cases := []Case{
		laneCase("s1", LaneSerial), laneCase("p1", ""), laneCase("p2", ""),
		laneCase("d1", LaneDisruptive), laneCase("s2", LaneSerial), laneCase("p3", ""),
		laneCase("p4", ""), laneCase("slow1", LaneSlow), laneCase("s3", LaneSerial),
		laneCase("p5", ""), laneCase("p6", ""), laneCase("f1", LaneFlaky),
	}
	return cases
}

func TestLanesSerialPodsRunAlone(t *testing.T) {
	cases := laneRun()
	lane := map[string]string{}
	for _, c := range cases {
		lane[c.ID] = c.Lane
	}
	s := &sim{t: t, spec: Spec{Cases: cases, Parallelism: 4}, outcome: func(Pod) Outcome { return Outcome{Status: Passed} }}
	d := s.run()
	for _, st := range d.Cases {
		assert.Equal(t, Passed, st.Status(), st.Case.TestID)
	}
	require.Len(t, s.created, len(cases))
	parallelSeen := false
	for _, alive := range s.alive {
		for _, id := range alive {
			if Exclusive(lane[id]) {
				assert.Equal(t, []string{id}, alive, "an exclusive pod is alive beside another")
			}
		}
		if len(alive) > 1 {
			parallelSeen = true
		}
	}
	assert.True(t, parallelSeen, "the parallel tests ran in parallel")

	var order []string
	for _, a := range s.created {
		order = append(order, a.Case.ID)
	}
	assert.Equal(t, "slow1", order[0], "slow tests start first: %v", order)
	// Every parallel test is created before the serial ones, which come
	// before the disruptive one, in collection order within a lane.
	assert.Equal(t, []string{"s1", "s2", "s3", "d1"}, order[len(order)-4:], "order %v", order)
	for _, id := range order[:len(order)-4] {
		assert.False(t, Exclusive(lane[id]), id)
	}
}

func TestLanesSerialWaitsForTerminatingPods(t *testing.T) {
	spec := Spec{Cases: []Case{laneCase("p", ""), laneCase("s", LaneSerial)}, Parallelism: 4}
	passed := Outcome{Status: Passed}
	// p's pod is collected and being deleted, but still terminating.
	pods := []Pod{{Name: "p-1", CaseID: "p", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: passed}}
	d := Next(spec, pods)
	assert.Empty(t, kinds(d.Actions), "no serial pod beside a terminating one")
	pods[0].Gone = true
	d = Next(spec, pods)
	assert.Equal(t, []string{"create t.py::s attempt 1"}, kinds(d.Actions))
	// The serial pod alone: no other serial pod, even with slots free.
	spec.Cases = append(spec.Cases, laneCase("s2", LaneSerial))
	pods = append(pods, Pod{Name: "s-1", CaseID: "s", Attempt: 1})
	assert.Empty(t, kinds(Next(spec, pods).Actions))
}

func TestLanesParallelWaitForNothing(t *testing.T) {
	// Without lanes, the parallel tests take every slot at once.
	spec := Spec{Cases: []Case{laneCase("a", ""), laneCase("b", ""), laneCase("s", LaneSerial)}, Parallelism: 4}
	assert.Equal(t, []string{"create t.py::a attempt 1", "create t.py::b attempt 1"}, kinds(Next(spec, nil).Actions))
	// A retried parallel test holds the serial lane back.
	spec.MaxAttempts = 2
	failed := Outcome{Status: Failed, ExitCode: 1}
	passed := Outcome{Status: Passed}
	pods := []Pod{
		{Name: "a-1", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Gone: true, Outcome: failed},
		{Name: "b-1", CaseID: "b", Attempt: 1, Done: true, Collected: true, Deleting: true, Gone: true, Outcome: passed},
	}
	assert.Equal(t, []string{"create t.py::a attempt 2"}, kinds(Next(spec, pods).Actions))
}

func TestLanesFlakyRetries(t *testing.T) {
	f := laneCase("f", LaneFlaky)
	p := laneCase("p", "")
	failed := Outcome{Status: Failed, ExitCode: 1}
	passed := Outcome{Status: Passed}
	spec := Spec{Cases: []Case{f, p}, Parallelism: 2, MaxAttempts: 1, FlakyAttempts: 3}
	s := &sim{t: t, spec: spec, outcome: func(pod Pod) Outcome {
		if pod.Attempt < 3 {
			return failed
		}
		return passed
	}}
	d := s.run()
	byID := map[string]CaseState{}
	for _, st := range d.Cases {
		byID[st.Case.ID] = st
	}
	assert.Len(t, byID["f"].Attempts, 3, "flaky runs up to FlakyAttempts")
	assert.True(t, byID["f"].Flaky(), "a pass on retry is flaky")
	assert.Len(t, byID["p"].Attempts, 1, "a plain test is not retried")
	assert.Equal(t, Failed, byID["p"].Status())

	// --retries above the flaky attempts wins.
	assert.Equal(t, 5, attemptsOf(f, 5, 3))
	assert.Equal(t, 1, attemptsOf(p, 1, 3))
}

func TestGroupKeepsLanesApart(t *testing.T) {
	cases := []Case{
		{ID: "a", TestID: "t/test_a.py::A::a"},
		{ID: "b", TestID: "t/test_a.py::A::b", Lane: LaneSerial},
		{ID: "c", TestID: "t/test_a.py::A::c", Lane: LaneSerial},
		{ID: "d", TestID: "t/test_a.py::A::d", Lane: LaneSlow},
		{ID: "e", TestID: "t/test_a.py::A::e"},
		{ID: "f", TestID: "t/test_a.py::A::f", Lane: LaneDisruptive},
		{ID: "g", TestID: "t/test_a.py::A::g", Lane: LaneSlow},
	}
	lane := map[string]string{}
	for _, c := range cases {
		lane[c.ID] = c.Lane
	}
	for _, g := range []Grouping{{PodPer: PerFile}, {PodPer: PerClass}, {Shards: 2}, {Shards: 5}} {
		units := Group(cases, g)
		var got []string
		ids := map[string]bool{}
		for _, u := range units {
			require.NotEmpty(t, u.Cases)
			assert.False(t, ids[u.ID], "unit IDs are unique: %s", u.ID)
			ids[u.ID] = true
			for _, id := range u.Cases {
				assert.Equal(t, lane[u.Cases[0]], lane[id], "%+v: unit %s mixes lanes", g, u.ID)
				got = append(got, id)
			}
			if Exclusive(lane[u.Cases[0]]) {
				assert.Len(t, u.Cases, 1, "%+v: an exclusive test has a pod of its own", g)
			}
		}
		slices.Sort(got)
		assert.Equal(t, []string{"a", "b", "c", "d", "e", "f", "g"}, got, "%+v: every case once", g)
		assert.Equal(t, LaneSlow, lane[units[0].Cases[0]], "%+v: slow first", g)
		assert.Equal(t, LaneDisruptive, lane[units[len(units)-1].Cases[0]], "%+v: disruptive last", g)
	}
	// Without lanes, grouping is unchanged.
	plain := mkCases("t/test_a.py::a", "t/test_a.py::b")
	assert.Len(t, Group(plain, Grouping{PodPer: PerFile}), 1)
}

func TestNextOrdersUnitsByLane(t *testing.T) {
	spec := Spec{Cases: []Case{laneCase("a", ""), laneCase("s", LaneSlow)}, Units: []Unit{{ID: "ua", Cases: []string{"a"}}, {ID: "us", Cases: []string{"s"}}}, Parallelism: 1}
	d := Next(spec, nil)
	require.Len(t, d.Actions, 1)
	assert.Equal(t, "us", d.Actions[0].Unit, "the slow unit starts first")
}
