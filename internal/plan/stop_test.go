package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func stoppedCases(d Decision) []string {
	var out []string
	for _, st := range d.Cases {
		if st.Stopped {
			out = append(out, st.Case.ID)
		}
	}
	return out
}

func TestMaxFailuresStopsTheRun(t *testing.T) {
	failed := Outcome{Status: Failed, ExitCode: 1}
	passed := Outcome{Status: Passed}
	d4 := Case{ID: "d", TestID: "t.py::d"}
	spec := Spec{Cases: []Case{a, b, c, d4}, Parallelism: 2, MaxFailures: 1}

	t.Run("below the limit the run goes on", func(t *testing.T) {
		d := Next(spec, []Pod{
			{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: passed},
			{Name: "pb", CaseID: "b", Attempt: 1},
		})
		assert.False(t, d.Stopped)
		assert.Equal(t, []string{"create t.py::c attempt 1"}, kinds(d.Actions))
	})

	// a failed; b still runs, c finished but is not collected yet.
	pods := []Pod{
		{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Collected: true, Outcome: failed},
		{Name: "pb", CaseID: "b", Attempt: 1},
		{Name: "pc", CaseID: "c", Attempt: 1, Done: true, Outcome: passed},
	}
	d := Next(spec, pods)
	assert.True(t, d.Stopped)
	assert.Equal(t, []string{"collect pc", "delete pa", "delete pb"}, kinds(d.Actions),
		"no pod is created; the running one is deleted; a finished one is still collected")
	assert.False(t, d.Done)
	assert.Equal(t, []string{"d"}, stoppedCases(d), "d never ran")

	// The deletions are under way, c is collected.
	pods[0].Deleting = true
	pods[1].Deleting = true
	pods[2].Collected, pods[2].Deleting = true, true
	d = Next(spec, pods)
	assert.Empty(t, d.Actions)
	assert.True(t, d.Done)
	assert.Equal(t, []string{"b", "d"}, stoppedCases(d))
	statuses := map[string]Status{}
	for _, st := range d.Cases {
		assert.True(t, st.Final, st.Case.ID)
		statuses[st.Case.ID] = st.Status()
	}
	assert.Equal(t, map[string]Status{"a": Failed, "b": "", "c": Passed, "d": ""}, statuses)

	// The deleted pod ends (killed) before it is gone: it is not collected.
	pods[1].Done, pods[1].Outcome = true, Outcome{Status: Error, ExitCode: 137, Reason: "Killed"}
	d = Next(spec, pods)
	assert.Empty(t, d.Actions)
	assert.True(t, d.Done)
	assert.Equal(t, []string{"b", "d"}, stoppedCases(d))
}

func TestMaxFailuresCountsFinalVerdictsOnly(t *testing.T) {
	failed := Outcome{Status: Failed, ExitCode: 1}
	errored := Outcome{Status: Error, ExitCode: -1, Reason: "OOMKilled"}
	spec := Spec{Cases: []Case{a, b, c}, Parallelism: 1, MaxAttempts: 2, MaxFailures: 2}

	// a failed once and will be retried: not a failed test yet.
	d := Next(spec, []Pod{{Name: "pa1", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: failed}})
	assert.False(t, d.Stopped)
	assert.Equal(t, []string{"create t.py::a attempt 2"}, kinds(d.Actions))

	// a failed twice, b errored twice: two failed tests.
	pods := []Pod{
		{Name: "pa1", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: failed},
		{Name: "pa2", CaseID: "a", Attempt: 2, Done: true, Collected: true, Deleting: true, Outcome: failed},
		{Name: "pb1", CaseID: "b", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: errored},
	}
	d = Next(spec, pods)
	assert.False(t, d.Stopped, "one failed test of two allowed")
	pods = append(pods, Pod{Name: "pb2", CaseID: "b", Attempt: 2, Done: true, Collected: true, Deleting: true, Outcome: errored})
	d = Next(spec, pods)
	assert.True(t, d.Stopped, "an error counts as a failure")
	assert.Empty(t, d.Actions)
	assert.True(t, d.Done)
	assert.Equal(t, []string{"c"}, stoppedCases(d))
}

func TestMaxFailuresStopsAUnitMidway(t *testing.T) {
	failed := Outcome{Status: Failed, ExitCode: 1}
	spec := Spec{Cases: []Case{a, b, c}, Units: []Unit{{ID: "u", Cases: []string{"a", "b", "c"}}}, Parallelism: 1, MaxFailures: 1}
	// The unit's pod settled a (failed) and died before b and c.
	d := Next(spec, []Pod{{Name: "pu1", CaseID: "u", Cases: []string{"a", "b", "c"}, Attempt: 1, Done: true, Collected: true,
		Outcome: failed, Outcomes: map[string]Outcome{"a": failed}}})
	require.True(t, d.Stopped)
	assert.Equal(t, []string{"delete pu1"}, kinds(d.Actions), "no fresh pod for b and c")
	assert.True(t, d.Done)
	assert.Equal(t, []string{"b", "c"}, stoppedCases(d))
}

func TestNoMaxFailuresRunsEverything(t *testing.T) {
	failed := Outcome{Status: Failed, ExitCode: 1}
	spec := Spec{Cases: []Case{a, b}, Parallelism: 1}
	d := Next(spec, []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Collected: true, Deleting: true, Outcome: failed}})
	assert.False(t, d.Stopped)
	assert.Equal(t, []string{"create t.py::b attempt 1"}, kinds(d.Actions))
}

// TestMaxFailuresWaitsForTheVerdict: with a limit, a finished pod keeps
// its slot until collected, so at parallelism 1 nothing starts after a
// failure; without one, the slot frees at once.
func TestMaxFailuresWaitsForTheVerdict(t *testing.T) {
	pods := []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Outcome: Outcome{Status: Failed, ExitCode: 1}}}
	d := Next(Spec{Cases: []Case{a, b}, Parallelism: 1, MaxFailures: 1}, pods)
	assert.Equal(t, []string{"collect pa"}, kinds(d.Actions))
	d = Next(Spec{Cases: []Case{a, b}, Parallelism: 1}, pods)
	assert.Equal(t, []string{"collect pa", "create t.py::b attempt 1"}, kinds(d.Actions))
}

// TestStopFromOutside: a stop decided elsewhere deletes this test's running
// pod, does not collect it once deleted, and ends the test stopped.
func TestStopFromOutside(t *testing.T) {
	spec := Spec{Cases: []Case{a}, Parallelism: 1, Stop: true}
	d := Next(spec, []Pod{{Name: "pa", CaseID: "a", Attempt: 1}})
	assert.True(t, d.Stopped)
	assert.Equal(t, []string{"delete pa"}, kinds(d.Actions))
	d = Next(spec, []Pod{{Name: "pa", CaseID: "a", Attempt: 1, Done: true, Deleting: true, Outcome: Outcome{Status: Error, Reason: "Killed"}}})
	assert.Empty(t, d.Actions)
	assert.True(t, d.Done)
	assert.Equal(t, []string{"a"}, stoppedCases(d))
	d = Next(spec, nil)
	assert.Empty(t, d.Actions, "nothing starts")
	assert.Equal(t, []string{"a"}, stoppedCases(d))
}

// TestMaxFailuresSkipsExcused: a case whose failure a quarantine excuses
// does not count towards MaxFailures, so with a limit of one, an excused
// failure and then an unexcused one still run every test; the unexcused
// failure is the one that reaches the limit.
func TestMaxFailuresSkipsExcused(t *testing.T) {
	failed := Outcome{Status: Failed, ExitCode: 1}
	errored := Outcome{Status: Error, ExitCode: -1, Reason: "OOMKilled"}
	outcome := map[string]Outcome{"a": failed, "b": {Status: Passed}, "c": failed, "d": errored}
	d4 := Case{ID: "d", TestID: "t.py::d"}
	spec := Spec{Cases: []Case{a, d4, b, c}, Parallelism: 1, MaxAttempts: 2, MaxFailures: 1,
		Excused: map[string]bool{"a": true, "d": true}}

	pl := NewPlanner(spec)
	var pods []Pod
	var dec Decision
	for range 20 {
		dec = pl.Next(pods)
		if dec.Done {
			break
		}
		for _, x := range dec.Actions {
			require.Equal(t, Create, x.Kind, "%v", kinds(dec.Actions))
			pods = append(pods, Pod{Name: x.Unit + "-" + string(rune('0'+x.Attempt)), CaseID: x.Unit, Attempt: x.Attempt,
				Done: true, Collected: true, Deleting: true, Outcome: outcome[x.Case.ID]})
		}
	}
	require.True(t, dec.Done)
	attempts := map[string]int{}
	for _, st := range pl.Cases() {
		assert.False(t, st.Stopped, "%s ran", st.Case.ID)
		attempts[st.Case.ID] = len(st.Attempts)
	}
	assert.Equal(t, map[string]int{"a": 2, "d": 2, "b": 1, "c": 2}, attempts, "every test ran, the failing ones twice")
	assert.True(t, dec.Stopped, "c's failure reached the limit")

	// Next, from the same pods, agrees.
	d := Next(spec, pods)
	assert.True(t, d.Done)
	assert.Empty(t, stoppedCases(d))

	// Without the excuse, a's failure stops the run before the rest.
	spec.Excused = nil
	d = Next(spec, pods[:2])
	assert.True(t, d.Stopped)
	assert.Equal(t, []string{"d", "b", "c"}, stoppedCases(d))
}
