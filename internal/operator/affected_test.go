package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

const baseCommit = "0123456789abcdef0123456789abcdef01234567"

func withAffectedSince(ids ...string) func(*v1alpha1.TestRun) {
	return func(r *v1alpha1.TestRun) {
		r.Spec.AffectedSince = &v1alpha1.AffectedSince{Commit: baseCommit, NotAffected: ids}
	}
}

// A test spec.affectedSince leaves out runs in no pod, ends Skipped with
// direct mode's message, counts apart (in Total, not in Skipped), and the
// report has it skipped with the JUnit property.
func TestRunLeavesOutTheTestsNotAffected(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withAffectedSince(sampleIDs[1], "tests/test_gone.py::test_removed")))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pods := e.livePods()
	assert.Equal(t, []string{sampleIDs[0], sampleIDs[2]}, keys(pods), "no pod of the test not affected")
	left := e.testCase("r1", sampleIDs[1])
	assert.Equal(t, baseCommit, left.Spec.NotAffected)
	e.reconcileCase(left.Name)
	left = e.testCase("r1", sampleIDs[1])
	assert.Equal(t, v1alpha1.CaseSkipped, left.Status.Phase)
	assert.Equal(t, "not affected since 0123456789ab: last passed at 0123456789ab", left.Status.Message)
	assert.Empty(t, e.testCase("r1", sampleIDs[0]).Spec.NotAffected)

	for _, id := range []string{sampleIDs[0], sampleIDs[2]} {
		e.finish(podName("r1", id, 1), 0, false)
		e.reconcileCase(TestCaseName("r1", testid.CaseID(id)))
		e.reconcileCase(TestCaseName("r1", testid.CaseID(id)))
	}
	e.reconcileRun("r1")
	run := e.run("r1")
	require.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase, run.Status.Message)
	assert.EqualValues(t, 3, run.Status.Total)
	assert.EqualValues(t, 2, run.Status.Passed)
	assert.EqualValues(t, 0, run.Status.Skipped, "counted apart from skipped")
	assert.EqualValues(t, 1, run.Status.NotAffected)
	assert.Contains(t, run.Status.Message, "1 not affected")
	assert.Empty(t, e.livePods())

	rep, err := LoadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Counts().NotAffected)
	// The same testcase as direct mode's (history.NotAffectedResult).
	var skipped []junit.Testcase
	for _, tc := range rep.Testcases() {
		if tc.Skipped != nil {
			skipped = append(skipped, tc)
		}
	}
	require.Len(t, skipped, 1)
	assert.Equal(t, "not affected since 0123456789ab: last passed at 0123456789ab", skipped[0].Skipped.Message)
	assert.Contains(t, skipped[0].Properties, junit.Property{Name: junit.PropertyNotAffected, Value: baseCommit})
	assert.Equal(t, "tests/test_a.py", skipped[0].File)
}

// The tests of a lane that opts out (flaky, disruptive) run though the
// list names them: the CLI that made the list had not discovered lanes.
func TestRunRunsTheLanesThatOptOutOfAffectedSince(t *testing.T) {
	e := newEnv(t, testRun("r1", withAffectedSince(lanePlain, laneFlaky, laneDisrupt, laneSlow)))
	e.reconcileRun("r1")
	e.discovery = lanesDiscovery(t)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")
	want := map[string]string{lanePlain: baseCommit, laneSlow: baseCommit, laneFlaky: "", laneDisrupt: "", laneSerial: ""}
	for id, w := range want {
		assert.Equal(t, w, e.testCase("r1", id).Spec.NotAffected, id)
	}
	e.reconcileRun("r1")
	for _, p := range e.pods() {
		if p.Labels[k8s.LabelRole] == "test" {
			id := p.Annotations[k8s.AnnotationTestID]
			assert.NotEqual(t, lanePlain, id)
			assert.NotEqual(t, laneSlow, id)
		}
	}
}

// Every test of a run whose tests are all left out is final at once.
func TestRunOfOnlyTestsNotAffectedSucceeds(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), withAffectedSince(sampleIDs[0])))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase, run.Status.Message)
	assert.EqualValues(t, 1, run.Status.NotAffected)
	assert.Empty(t, e.pods())
}
