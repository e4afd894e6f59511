package plan

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomSpec is a run of a few cases in every lane, grouped or not, with
// retries, infrastructure retries and perhaps a failure limit or a stop.
func randomSpec(rng *rand.Rand) Spec {
	lanes := []string{LaneDefault, LaneDefault, LaneDefault, LaneSlow, LaneFlaky, LaneSerial, LaneDisruptive}
	n := 1 + rng.IntN(12)
	spec := Spec{
		Parallelism:   rng.IntN(4),
		MaxAttempts:   rng.IntN(3),
		InfraRetries:  rng.IntN(3) - 1,
		FlakyAttempts: rng.IntN(4),
	}
	if rng.IntN(3) == 0 {
		spec.MaxFailures = 1 + rng.IntN(3)
	}
	for i := range n {
		spec.Cases = append(spec.Cases, laneCase(fmt.Sprint("c", i), lanes[rng.IntN(len(lanes))]))
	}
	if rng.IntN(2) == 0 {
		// Units of one lane each, as grouping makes them; some cases stay
		// alone.
		byLane := map[string][]string{}
		for _, c := range spec.Cases {
			if rng.IntN(4) > 0 {
				byLane[c.Lane] = append(byLane[c.Lane], c.ID)
			}
		}
		for _, c := range spec.Cases {
			if ids := byLane[c.Lane]; len(ids) > 0 {
				spec.Units = append(spec.Units, Unit{ID: "u" + c.ID, Cases: ids})
				delete(byLane, c.Lane)
			}
		}
	}
	return spec
}

// randomOutcome is what a pod that ran says: passed, failed, a test error,
// or a disruption; a unit's pod may settle only some of its cases.
func randomOutcome(rng *rand.Rand, p *Pod) {
	outcomes := []Outcome{
		{Status: Passed},
		{Status: Passed},
		{Status: Failed, ExitCode: 1},
		{Status: Error, ExitCode: -1, Reason: "OOMKilled"},
		{Status: Error, ExitCode: -1, Reason: ReasonEvicted},
	}
	p.Outcome = outcomes[rng.IntN(len(outcomes))]
	if len(p.Cases) > 1 && rng.IntN(2) == 0 {
		p.Outcomes = map[string]Outcome{}
		for _, id := range p.Cases[:rng.IntN(len(p.Cases))] {
			p.Outcomes[id] = outcomes[rng.IntN(len(outcomes))]
		}
	}
}

// TestPlannerDecidesLikeNext drives random runs as the runner does, and
// checks at every step that a Planner, given only the pods not yet settled,
// decides exactly as Next given every pod the run ever had.
func TestPlannerDecidesLikeNext(t *testing.T) {
	// left counts the evaluations a settled pod was left out of.
	left := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 1))
		spec := randomSpec(rng)
		pl := NewPlanner(spec)
		var pods []Pod
		// seen are the pods the planner has been shown collected.
		seen := map[string]bool{}
		for step := 0; ; step++ {
			require.Less(t, step, 2000, "seed %d: the run never ended", seed)
			if step == 40 && rng.IntN(4) == 0 {
				// A stop decided over a wider view, as the operator's.
				spec.Stop = true
				pl = NewPlanner(spec)
				clear(seen)
			}
			var shown []Pod
			for _, p := range pods {
				if seen[p.Name] && p.Deleting && p.Gone && rng.IntN(4) > 0 {
					left++
					continue
				}
				shown = append(shown, p)
			}
			want := Next(spec, pods)
			got := pl.Next(shown)
			require.Equal(t, kinds(want.Actions), kinds(got.Actions), "seed %d step %d", seed, step)
			require.Equal(t, want.Actions, got.Actions, "seed %d step %d", seed, step)
			require.Equal(t, want.Done, got.Done, "seed %d step %d", seed, step)
			require.Equal(t, want.Stopped, got.Stopped, "seed %d step %d", seed, step)
			require.Equal(t, want.Cases, pl.Cases(), "seed %d step %d", seed, step)
			for _, p := range shown {
				if p.Done && p.Collected {
					seen[p.Name] = true
				}
			}
			allGone := true
			for _, p := range pods {
				allGone = allGone && p.Gone
			}
			if want.Done && allGone {
				break
			}
			for _, a := range want.Actions {
				switch a.Kind {
				case Create:
					pods = append(pods, Pod{Name: fmt.Sprintf("%s-%d", a.Unit, a.Attempt), CaseID: a.Unit, Attempt: a.Attempt, Cases: caseIDs(a.Cases)})
				case Collect, Delete:
					for i := range pods {
						if pods[i].Name != a.Pod {
							continue
						}
						if a.Kind == Collect {
							pods[i].Collected = true
							randomOutcome(rng, &pods[i])
						} else {
							pods[i].Deleting = true
						}
					}
				}
			}
			// Some pods move on: they finish, or a deleted one goes away.
			for i := range pods {
				p := &pods[i]
				if rng.IntN(3) > 0 {
					continue
				}
				switch {
				case p.Deleting && !p.Gone:
					p.Gone, p.Done = true, true
				case !p.Done:
					p.Done = true
				}
			}
		}
	}
	assert.Greater(t, left, 1000, "settled pods left out")
}

// inFlight is a run of n cases at parallelism p, half way: the first half
// settled (their pods collected and gone), p-10 pods running, and a planner
// that has seen the settled ones once. An evaluation then has 10 pods to
// create.
func inFlight(n, p int) (*Planner, []Pod) {
	cases := make([]Case, n)
	for i := range cases {
		cases[i] = Case{ID: fmt.Sprint("c", i), TestID: fmt.Sprint("t.py::t", i)}
	}
	pl := NewPlanner(Spec{Cases: cases, Parallelism: p, MaxAttempts: 2})
	var settled, running []Pod
	for i := range n / 2 {
		settled = append(settled, Pod{Name: cases[i].ID + "-1", CaseID: cases[i].ID, Attempt: 1,
			Done: true, Collected: true, Deleting: true, Gone: true, Outcome: Outcome{Status: Passed}})
	}
	for i := n / 2; i < n/2+p-10; i++ {
		running = append(running, Pod{Name: cases[i].ID + "-1", CaseID: cases[i].ID, Attempt: 1})
	}
	pl.Next(append(settled, running...))
	return pl, running
}

// allocated is what one call of f allocates, in bytes, on average.
func allocated(runs int, f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// An evaluation in the middle of a large run costs the pods in flight: what
// it allocates does not grow with the cases of the run.
func TestPlannerEvaluationDoesNotGrowWithTheRun(t *testing.T) {
	small, smallPods := inFlight(1000, 100)
	large, largePods := inFlight(10000, 100)
	d := large.Next(largePods)
	require.Len(t, d.Actions, 10)
	assert.Equal(t, "create t.py::t5090 attempt 1", d.Actions[0].String())
	assert.False(t, d.Done)

	smallBytes := allocated(50, func() { small.Next(smallPods) })
	largeBytes := allocated(50, func() { large.Next(largePods) })
	smallAllocs := testing.AllocsPerRun(50, func() { small.Next(smallPods) })
	largeAllocs := testing.AllocsPerRun(50, func() { large.Next(largePods) })
	t.Logf("per evaluation: %d B, %.0f allocations at 1000 cases; %d B, %.0f allocations at 10000", smallBytes, smallAllocs, largeBytes, largeAllocs)
	assert.LessOrEqual(t, largeAllocs, smallAllocs+2)
	assert.LessOrEqual(t, largeBytes, smallBytes+smallBytes/4+256)
}

func BenchmarkPlannerInFlight(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			pl, pods := inFlight(n, 100)
			b.ReportAllocs()
			for b.Loop() {
				pl.Next(pods)
			}
		})
	}
}

// A final case can want another attempt again, when a pod of it that was
// left over (a restarted driver finds it) ends disrupted: its unit goes
// back among those that want, in its place.
func TestPlannerCaseThatWantsAgain(t *testing.T) {
	spec := Spec{Cases: []Case{a, b, c}, Parallelism: 1, InfraRetries: 1}
	passed := Outcome{Status: Passed}
	evicted := Outcome{Status: Error, ExitCode: -1, Reason: ReasonEvicted}
	gone := func(name, id string, attempt int, o Outcome) Pod {
		return Pod{Name: name, CaseID: id, Attempt: attempt, Done: true, Collected: true, Deleting: true, Gone: true, Outcome: o}
	}
	pl := NewPlanner(spec)
	steps := [][]Pod{
		{gone("b1", "b", 1, passed), gone("c1", "c", 1, passed)},
		{{Name: "b2", CaseID: "b", Attempt: 2}},
		{gone("b2", "b", 2, evicted)},
		{gone("a1", "a", 1, passed)},
		{},
	}
	var all []Pod
	wants := []string{
		"create t.py::a attempt 1",
		"",
		"create t.py::a attempt 1",
		"create t.py::b attempt 3",
		"create t.py::b attempt 3",
	}
	for i, pods := range steps {
		all = append(all, pods...)
		if i == 2 {
			all = slices.DeleteFunc(all, func(p Pod) bool { return p.Name == "b2" && !p.Done })
		}
		want := Next(spec, all)
		got := pl.Next(pods)
		assert.Equal(t, want.Actions, got.Actions, "step %d", i)
		assert.Equal(t, want.Cases, pl.Cases(), "step %d", i)
		assert.Equal(t, wants[i], strings.Join(kinds(got.Actions), " "), "step %d", i)
	}
}

// A unit with a case in flight and another ready gets a pod for the ready
// one.
func TestPlannerUnitPartlyInFlight(t *testing.T) {
	spec := Spec{Cases: []Case{a, b, c}, Units: []Unit{{ID: "f", Cases: []string{"a", "b"}}}, Parallelism: 3}
	pods := []Pod{{Name: "f-1", CaseID: "f", Attempt: 1, Cases: []string{"a"}}}
	want := Next(spec, pods)
	got := NewPlanner(spec).Next(pods)
	assert.Equal(t, []string{"create f [t.py::b] attempt 2", "create t.py::c attempt 1"}, kinds(got.Actions))
	assert.Equal(t, want.Actions, got.Actions)
}
