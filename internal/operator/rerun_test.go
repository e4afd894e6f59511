package operator

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// A rerun of failed tests discovers as a full run does, so each test keeps
// its markers: the serial one keeps its lane and runs alone, after the
// others, as in direct mode; tests of the project that did not fail do not
// run.
func TestRerunKeepsEachTestsLane(t *testing.T) {
	e := newEnv(t, testRun("r1", func(r *v1alpha1.TestRun) {
		r.Spec.Parallelism = 4
		r.Spec.Lanes = map[string]v1alpha1.LaneMarkers{plan.LaneSerial: {"db_migration"}}
		r.Spec.RerunTests = []string{laneSerial, lanePlain, laneFlaky, "tests/test_gone.py::test_renamed"}
	}))
	e.reconcileRun("r1")
	assert.Equal(t, 1, e.created[DiscoveryPodName("r1")], "a rerun discovers")
	e.discovery = lanesDiscovery(t)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")

	require.Len(t, e.testCases("r1"), 3, "only the tests to rerun that still exist")
	assert.Equal(t, plan.LaneSerial, e.testCase("r1", laneSerial).Spec.Lane)
	assert.Equal(t, plan.LaneFlaky, e.testCase("r1", laneFlaky).Spec.Lane)
	var missing string
	for _, ev := range e.events() {
		if strings.Contains(ev, "RerunMissing") {
			missing = ev
		}
	}
	assert.Contains(t, missing, "1 of the 4 tests to rerun no longer exist")
	assert.Contains(t, missing, "tests/test_gone.py::test_renamed")

	e.reconcileRun("r1")
	require.Equal(t, []string{laneFlaky, lanePlain}, keys(e.livePods()), "the serial test waits for the others")
	for _, id := range []string{lanePlain, laneFlaky} {
		e.finish(e.livePod(id).Name, 0, false)
	}
	e.reconcileCases("r1") // collect
	e.reconcileCases("r1") // delete
	e.reconcileRun("r1")
	require.Equal(t, []string{laneSerial}, keys(e.livePods()), "then runs alone")
	e.finish(e.livePod(laneSerial).Name, 0, false)
	e.reconcileCases("r1")
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	run := e.run("r1")
	require.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase, run.Status.Message)
	assert.EqualValues(t, 3, run.Status.Passed)
}

// A rerun none of whose tests exist any more ends the run, saying so.
func TestRerunOfTestsAllGone(t *testing.T) {
	e := newEnv(t, testRun("r1", func(r *v1alpha1.TestRun) {
		r.Spec.RerunTests = []string{"tests/test_gone.py::test_renamed"}
	}))
	e.reconcileRun("r1")
	e.discovery = lanesDiscovery(t)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, "none of the 1 tests to rerun exist")
	assert.Empty(t, e.testCases("r1"))
}
