package plan

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	a = Case{ID: "a", TestID: "t.py::a"}
	b = Case{ID: "b", TestID: "t.py::b"}
	c = Case{ID: "c", TestID: "t.py::c"}
)

func kinds(actions []Action) []string {
	out := make([]string, 0, len(actions))
	for _, x := range actions {
		out = append(out, x.String())
	}
	return out
}

func TestNext(t *testing.T) {
	passed := Outcome{Status: Passed}
	failed := Outcome{Status: Failed, ExitCode: 1}
	tests := []struct {
		name     string
		spec     Spec
		pods     []Pod
		want     []string
		done     bool
		statuses map[string]Status
	}{
		{
			name: "nothing observed creates up to parallelism",
			spec: Spec{Cases: []Case{a, b, c}, Parallelism: 2},
			want: []string{"create t.py::a attempt 1", "create t.py::b attempt 1"},
		},
		{
			name: "zero parallelism still runs one",
			spec: Spec{Cases: []Case{a, b}},
			want: []string{"create t.py::a attempt 1"},
		},
		{
			name: "running pods take the parallelism slots",
			spec: Spec{Cases: []Case{a, b, c}, Parallelism: 2},
			pods: []Pod{{Name: "pa", CaseID: "a", Attempt: 1}},
			want: []string{"create t.py::b attempt 1"},
		},
		{
			name: "finished pod is collected and frees its slot",
			spec: Spec{Cases: []Case{a, b}, Parallelism: 1},
			pods: []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true}},
			want: []string{"collect pa", "create t.py::b attempt 1"},
		},
		{
			name: "collected pod is deleted once",
			spec: Spec{Cases: []Case{a}, Parallelism: 1},
			pods: []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Collected: true, Outcome: passed}},
			want: []string{"delete pa"},
			done: true,
		},
		{
			name: "deleting pod is not deleted again",
			spec: Spec{Cases: []Case{a}, Parallelism: 1},
			pods: []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: passed}},
			want: []string{},
			done: true,
		},
		{
			name: "failure is retried while attempts remain",
			spec: Spec{Cases: []Case{a}, Parallelism: 1, MaxAttempts: 2},
			pods: []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: failed}},
			want: []string{"create t.py::a attempt 2"},
		},
		{
			name: "an infrastructure error (a service never ready) is retried while attempts remain",
			spec: Spec{Cases: []Case{a}, Parallelism: 1, MaxAttempts: 2},
			pods: []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true,
				Outcome: Outcome{Status: Error, ExitCode: -1, Reason: "ServiceNotReady", Message: `service "db" not ready`}}},
			want: []string{"create t.py::a attempt 2"},
		},
		{
			name: "failure is final when attempts are used up",
			spec: Spec{Cases: []Case{a}, Parallelism: 1, MaxAttempts: 2},
			pods: []Pod{
				{Name: "pa1", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: failed},
				{Name: "pa2", CaseID: "a", Attempt: 2, Done: true, Collected: true, Deleting: true, Outcome: failed},
			},
			want:     []string{},
			done:     true,
			statuses: map[string]Status{"a": Failed},
		},
		{
			name: "a retry does not start while the earlier attempt is uncollected",
			spec: Spec{Cases: []Case{a}, Parallelism: 1, MaxAttempts: 3},
			pods: []Pod{{Name: "pa1", CaseID: "a", Attempt: 1, Done: true, Outcome: failed}},
			want: []string{"collect pa1"},
		},
		{
			name: "skipped is final and not retried",
			spec: Spec{Cases: []Case{a}, Parallelism: 1, MaxAttempts: 3},
			pods: []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: Outcome{Status: Skipped}}},
			want: []string{}, done: true,
			statuses: map[string]Status{"a": Skipped},
		},
		{
			name: "pods of unknown cases are ignored",
			spec: Spec{Cases: []Case{a}, Parallelism: 1},
			pods: []Pod{{Name: "px", CaseID: "x", Attempt: 1}},
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Next(tt.spec, tt.pods)
			assert.Equal(t, tt.want, kinds(d.Actions))
			assert.Equal(t, tt.done, d.Done)
			for _, st := range d.Cases {
				if want, ok := tt.statuses[st.Case.ID]; ok {
					assert.Equal(t, want, st.Status(), st.Case.ID)
				}
			}
		})
	}
}

func TestFlaky(t *testing.T) {
	spec := Spec{Cases: []Case{a, b}, Parallelism: 2, MaxAttempts: 3}
	pods := []Pod{
		{Name: "pa1", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: Outcome{Status: Failed}},
		{Name: "pa2", CaseID: "a", Attempt: 2, Done: true, Collected: true, Deleting: true, Outcome: Outcome{Status: Passed}},
		{Name: "pb1", CaseID: "b", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: Outcome{Status: Passed}},
	}
	d := Next(spec, pods)
	require.True(t, d.Done)
	require.Len(t, d.Cases, 2)
	assert.Equal(t, Passed, d.Cases[0].Status())
	assert.True(t, d.Cases[0].Flaky())
	assert.Len(t, d.Cases[0].Attempts, 2)
	assert.False(t, d.Cases[1].Flaky())
}

// TestNeverExceedsAttempts drives Next to completion with every attempt
// failing and checks no case is created more often than MaxAttempts.
func TestNeverExceedsAttempts(t *testing.T) {
	spec := Spec{Cases: []Case{a, b, c}, Parallelism: 2, MaxAttempts: 3}
	var pods []Pod
	created := map[string]int{}
	for range 100 {
		d := Next(spec, pods)
		if d.Done {
			break
		}
		for _, act := range d.Actions {
			switch act.Kind {
			case Create:
				created[act.Case.ID]++
				pods = append(pods, Pod{Name: act.Case.ID + string(rune('0'+act.Attempt)), CaseID: act.Case.ID, Attempt: act.Attempt})
			case Collect, Delete:
				for i := range pods {
					if pods[i].Name == act.Pod {
						pods[i].Collected = true
						pods[i].Deleting = act.Kind == Delete
						pods[i].Outcome = Outcome{Status: Failed}
					}
				}
			}
		}
		// Everything created this round finishes before the next.
		for i := range pods {
			pods[i].Done = true
		}
	}
	assert.Equal(t, map[string]int{"a": 3, "b": 3, "c": 3}, created)
	assert.True(t, Next(spec, pods).Done)
}

func TestNextUnits(t *testing.T) {
	passed := Outcome{Status: Passed}
	failed := Outcome{Status: Failed, ExitCode: 1}
	oom := Outcome{Status: Error, ExitCode: -1, Reason: "OOMKilled"}
	file := Unit{ID: "f", Cases: []string{"a", "b", "c"}}
	tests := []struct {
		name     string
		spec     Spec
		pods     []Pod
		want     []string
		done     bool
		statuses map[string]Status
	}{
		{
			name: "a unit runs its cases in one pod",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{file}, Parallelism: 4},
			want: []string{"create f [t.py::a t.py::b t.py::c] attempt 1"},
		},
		{
			name: "cases no unit names run alone, after the units",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{{ID: "g", Cases: []string{"b", "c"}}}, Parallelism: 4},
			want: []string{"create g [t.py::b t.py::c] attempt 1", "create t.py::a attempt 1"},
		},
		{
			name: "units take the parallelism slots one pod each",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{{ID: "g", Cases: []string{"a", "b"}}, {ID: "h", Cases: []string{"c"}}}, Parallelism: 1},
			want: []string{"create g [t.py::a t.py::b] attempt 1"},
		},
		{
			name: "a running group pod keeps all its cases pending",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{file}, Parallelism: 4},
			pods: []Pod{{Name: "f1", CaseID: "f", Attempt: 1, Cases: []string{"a", "b", "c"}}},
			want: []string{},
		},
		{
			name: "cases a dead pod did not reach go to a fresh pod; finished ones keep their verdicts",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{file}, Parallelism: 4},
			pods: []Pod{{Name: "f1", CaseID: "f", Attempt: 1, Cases: []string{"a", "b", "c"}, Done: true, Collected: true, Deleting: true,
				Outcome: oom, Outcomes: map[string]Outcome{"a": passed, "b": oom}}},
			want:     []string{"create f [t.py::c] attempt 2"},
			statuses: map[string]Status{"a": Passed, "b": Error},
		},
		{
			name: "a failed case is retried with the unit's leftovers",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{file}, Parallelism: 4, MaxAttempts: 2},
			pods: []Pod{{Name: "f1", CaseID: "f", Attempt: 1, Cases: []string{"a", "b", "c"}, Done: true, Collected: true, Deleting: true,
				Outcome: oom, Outcomes: map[string]Outcome{"a": failed, "b": oom}}},
			want: []string{"create f [t.py::a t.py::b t.py::c] attempt 2"},
		},
		{
			name: "a pod that reports no case gives its outcome to every case",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{file}, Parallelism: 4},
			pods: []Pod{{Name: "f1", CaseID: "f", Attempt: 1, Cases: []string{"a", "b", "c"}, Done: true, Collected: true, Deleting: true,
				Outcome: oom, Outcomes: map[string]Outcome{}}},
			want:     []string{},
			done:     true,
			statuses: map[string]Status{"a": Error, "b": Error, "c": Error},
		},
		{
			name: "the second pod's results join the first's, and the run is done",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{file}, Parallelism: 4},
			pods: []Pod{
				{Name: "f1", CaseID: "f", Attempt: 1, Cases: []string{"a", "b", "c"}, Done: true, Collected: true, Deleting: true,
					Outcome: oom, Outcomes: map[string]Outcome{"a": passed, "b": oom}},
				{Name: "f2", CaseID: "f", Attempt: 2, Cases: []string{"c"}, Done: true, Collected: true,
					Outcome: passed, Outcomes: map[string]Outcome{"c": passed}},
			},
			want:     []string{"delete f2"},
			done:     true,
			statuses: map[string]Status{"a": Passed, "b": Error, "c": Passed},
		},
		{
			name: "a finished group pod is collected once",
			spec: Spec{Cases: []Case{a, b, c}, Units: []Unit{file}, Parallelism: 4},
			pods: []Pod{{Name: "f1", CaseID: "f", Attempt: 1, Cases: []string{"a", "b", "c"}, Done: true}},
			want: []string{"collect f1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Next(tt.spec, tt.pods)
			assert.Equal(t, tt.want, kinds(d.Actions))
			assert.Equal(t, tt.done, d.Done)
			for _, st := range d.Cases {
				if want, ok := tt.statuses[st.Case.ID]; ok {
					assert.Equal(t, want, st.Status(), st.Case.ID)
				}
			}
		})
	}
}

func TestNextNeverCreatesAUnitForever(t *testing.T) {
	// A unit whose pod always dies on its first case must end: each pod
	// settles at least that case.
	spec := Spec{Cases: []Case{a, b, c}, Units: []Unit{{ID: "f", Cases: []string{"a", "b", "c"}}}, Parallelism: 1}
	oom := Outcome{Status: Error, ExitCode: -1, Reason: "OOMKilled"}
	var pods []Pod
	for i := 1; i <= 10; i++ {
		d := Next(spec, pods)
		if d.Done {
			require.Equal(t, 4, i, "three pods, one case settled by each")
			return
		}
		require.Len(t, d.Actions, 1)
		act := d.Actions[0]
		require.Equal(t, Create, act.Kind)
		first := act.Cases[0].ID
		ids := []string{}
		for _, c := range act.Cases {
			ids = append(ids, c.ID)
		}
		pods = append(pods, Pod{Name: fmt.Sprint("f", act.Attempt), CaseID: "f", Attempt: act.Attempt, Cases: ids,
			Done: true, Collected: true, Deleting: true, Outcome: oom, Outcomes: map[string]Outcome{first: oom}})
	}
	t.Fatal("the unit never finished")
}

func TestPrepareGivesTheSameDecisions(t *testing.T) {
	spec := Spec{Cases: []Case{a, b, c}, Units: []Unit{{ID: "f", Cases: []string{"a", "b"}}}, Parallelism: 2}
	pods := []Pod{{Name: "f1", CaseID: "f", Attempt: 1, Cases: []string{"a", "b"}, Done: true, Collected: true,
		Outcome: Outcome{Status: Passed}, Outcomes: map[string]Outcome{"a": {Status: Passed}}}}
	want := Next(spec, pods)
	spec.Prepare()
	assert.Equal(t, want, Next(spec, pods))
}

func BenchmarkNextLargeRun(b *testing.B) {
	cases := make([]Case, 10000)
	for i := range cases {
		cases[i] = Case{ID: fmt.Sprint("c", i), TestID: fmt.Sprint("t.py::t", i)}
	}
	spec := Spec{Cases: cases, Parallelism: 100}
	spec.Prepare()
	b.ReportAllocs()
	for b.Loop() {
		Next(spec, nil)
	}
}
