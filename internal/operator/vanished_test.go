package operator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
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

// A unit's pod force-deleted while it ran has its attempt recorded for
// each of its tests as PodDeleted, and the unit runs again.
func TestForceDeletedUnitPodIsRecordedAndRunAgain(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping("", 1)))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	first := k8s.PodName("r1", "shard-1", 1)
	e.start(first)
	e.reconcileRun("r1")

	e.forceDelete(first)
	e.reconcileRun("r1")
	for _, id := range sampleIDs {
		tc := e.testCase("r1", id)
		require.Len(t, tc.Status.History, 1, "the lost attempt of %s is recorded", id)
		assert.Equal(t, plan.ReasonPodDeleted, tc.Status.History[0].Reason, id)
		assert.Equal(t, first, tc.Status.History[0].Pod, id)
	}
	e.reconcileRun("r1")
	second := e.runPods("r1")
	require.Len(t, second, 1)
	assert.Equal(t, k8s.PodName("r1", "shard-1", 2), second[0].Name)
	e.logs[second[0].Name] = unitBlock(t, "", 0, unitVerdict{sampleIDs[0], false}, unitVerdict{sampleIDs[1], false}, unitVerdict{sampleIDs[2], false})
	e.finish(second[0].Name, 0, false)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	assert.Equal(t, v1alpha1.RunSucceeded, e.run("r1").Status.Phase)
	assert.Empty(t, e.pods())
}

// The memory forgets the pods of owners no reconcile asks about any more
// (a deleted run's), past podMemoryTTL.
func TestPodMemoryForgetsOwnersNoLongerAskedAbout(t *testing.T) {
	m := &podMemory{}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-1", Labels: map[string]string{k8s.LabelAttempt: "1"}}}
	never := func(string) bool { return false }
	m.pods("gone", []*corev1.Pod{pod}, never, t0)
	assert.Len(t, m.pods("gone", nil, never, t0.Add(time.Minute)), 1, "listed no more: the copy comes back as deleted")
	m.pods("other", nil, never, t0.Add(podMemoryTTL+time.Minute))
	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Empty(t, m.owners, "swept")
}
