package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// forceDelete plays `kubectl delete pod --grace-period=0 --force`: the pod
// leaves the API at once, with no terminal status ever shown.
func (e *env) forceDelete(name string) {
	e.t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	require.NoError(e.t, e.client.Delete(context.Background(), pod, client.GracePeriodSeconds(0)))
}

// A running pod force-deleted before the operator saw it end leaves its
// attempt recorded as PodDeleted, and the test runs again as an
// infrastructure retry, whichever reconciler sees the loss first.
func TestForceDeletedPodIsRecordedAndRunAgain(t *testing.T) {
	for _, runFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "testcase first", true: "testrun first"}[runFirst], func(t *testing.T) {
			e := newEnv(t, testRun("r1", withTests(sampleIDs[0])))
			started(t, e, "r1")
			name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
			first := podName("r1", sampleIDs[0], 1)
			e.start(first)
			e.reconcileCase(name)
			e.reconcileRun("r1")

			e.forceDelete(first)
			if runFirst {
				e.reconcileRun("r1")
				assert.Zero(t, len(e.pods()), "no pod is created again before the lost attempt is recorded")
			}
			e.reconcileCase(name)
			tc := e.testCase("r1", sampleIDs[0])
			require.Len(t, tc.Status.History, 1, "the lost attempt is recorded")
			lost := tc.Status.History[0]
			assert.Equal(t, first, lost.Pod)
			assert.Equal(t, "error", lost.Status)
			assert.Equal(t, plan.ReasonPodDeleted, lost.Reason)
			assert.Contains(t, lost.Message, "deleted before the test finished")
			assert.Equal(t, v1alpha1.CaseRunning, tc.Status.Phase, "an infrastructure retry is to come")

			e.reconcileCase(name)
			e.reconcileRun("r1")
			require.Len(t, e.pods(), 1)
			second := podName("r1", sampleIDs[0], 2)
			assert.Equal(t, second, e.pods()[0].Name)
			e.finish(second, 0, false)
			e.reconcileCase(name)
			tc = e.testCase("r1", sampleIDs[0])
			assert.Equal(t, v1alpha1.CasePassed, tc.Status.Phase)
			assert.Len(t, tc.Status.History, 2)
			e.reconcileCase(name)
			e.reconcileRun("r1")
			assert.Equal(t, v1alpha1.RunSucceeded, e.run("r1").Status.Phase)
		})
	}
}
