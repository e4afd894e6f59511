package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// TestRunStopsAtMaxFailures: the first failure of a run with maxFailures 1
// stops it. The Stopped condition is stored before the running pod is
// deleted; that pod is not collected; the tests that never started end
// NotRun; no pod is created after the failure; the report counts them not
// run, and the run fails as for any failure.
func TestRunStopsAtMaxFailures(t *testing.T) {
	ids := append(append([]string(nil), sampleIDs...), "tests/test_b.py::test_four")
	e := newEnv(t, testRun("r1", withTests(ids...), func(r *v1alpha1.TestRun) { r.Spec.MaxFailures = 1 }))
	started(t, e, "r1")
	require.Len(t, e.pods(), 2, "parallelism 2")

	e.finish(podName("r1", ids[0], 1), 1, false)
	e.start(podName("r1", ids[1], 1))
	e.reconcileCases("r1")
	assert.Equal(t, v1alpha1.CaseFailed, e.testCase("r1", ids[0]).Status.Phase)

	res := e.reconcileRun("r1")
	run := e.run("r1")
	require.True(t, meta.IsStatusConditionTrue(run.Status.Conditions, v1alpha1.ConditionStopped), "the stop is stored first")
	assert.Positive(t, res.RequeueAfter)
	running := podName("r1", ids[1], 1)
	pod := e.podNamed(running)
	require.NotNil(t, pod, "the running pod stays until the stop is stored")
	assert.Contains(t, e.events(), "Warning Stopped 1 tests failed or errored (maxFailures 1): no further test starts")

	e.reconcileRun("r1")
	assert.Nil(t, e.podNamed(running), "the running pod is deleted")
	e.reconcileCases("r1")
	tc := e.testCase("r1", ids[1])
	assert.Equal(t, v1alpha1.CaseNotRun, tc.Status.Phase)
	assert.Empty(t, tc.Status.History, "the deleted pod is not collected")

	e.reconcileRun("r1")
	run = e.run("r1")
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
	assert.Equal(t, int32(1), run.Status.Failed)
	assert.Equal(t, int32(3), run.Status.NotRun)
	assert.Zero(t, run.Status.Errors, "tests not run are no errors")
	assert.Contains(t, run.Status.Message, "3 not run")
	for _, id := range ids[1:] {
		assert.Equal(t, v1alpha1.CaseNotRun, e.testCase("r1", id).Status.Phase, id)
	}
	e.mu.Lock()
	assert.Len(t, e.created, 2, "no pod after the failure")
	e.mu.Unlock()

	rep, err := LoadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	assert.Equal(t, report.Counts{Total: 4, Failed: 1, NotRun: 3, Stopped: 3}, rep.Counts())
	assert.Equal(t, 1, rep.ExitCode(0, 1, 2))
}

func TestRunWithoutMaxFailuresRunsOn(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...)))
	started(t, e, "r1")
	e.finish(podName("r1", sampleIDs[0], 1), 1, false)
	e.reconcileCases("r1")
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	assert.False(t, meta.IsStatusConditionTrue(e.run("r1").Status.Conditions, v1alpha1.ConditionStopped))
	assert.NotNil(t, e.podNamed(podName("r1", sampleIDs[2], 1)), "the third test starts after the failure")
}

func (e *env) podNamed(name string) *corev1.Pod {
	e.t.Helper()
	p := &corev1.Pod{}
	err := e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, p)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(e.t, err)
	return p
}
