package operator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// evict plays the kubelet evicting a running pod under node pressure: a
// DisruptionTarget condition, then the test stopped by SIGTERM.
func (e *env) evict(name string) {
	e.t.Helper()
	pod := &corev1.Pod{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pod))
	started := metav1.NewTime(e.now.Add(-2 * time.Second))
	pod.Spec.NodeName = "node-1"
	pod.Status.Phase = corev1.PodFailed
	pod.Status.Reason = "Evicted"
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "TerminationByKubelet",
		Message: "The node was low on resource: memory.", LastTransitionTime: metav1.NewTime(e.now.Add(-time.Second)),
	})
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: k8s.TestContainer, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 143, StartedAt: started, FinishedAt: metav1.NewTime(e.now)},
	}}}
	require.NoError(e.t, e.client.Status().Update(context.Background(), pod))
}

func TestCaseRunsAgainAfterEviction(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0])))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))

	e.evict(podName("r1", sampleIDs[0], 1))
	e.reconcileCase(name)
	tc := e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CaseRunning, tc.Status.Phase, "an infrastructure retry is to come, with no test retries")
	require.Len(t, tc.Status.History, 1)
	first := tc.Status.History[0]
	assert.Equal(t, plan.ReasonEvicted, first.Reason)
	assert.Equal(t, "error", first.Status)
	require.NotNil(t, first.StartTime)
	require.NotNil(t, first.FinishTime)
	assert.True(t, first.FinishTime.After(first.StartTime.Time))
	e.reconcileCase(name)
	assert.Empty(t, e.pods(), "the evicted attempt's pod goes")

	e.reconcileRun("r1")
	require.Len(t, e.pods(), 1)
	assert.Equal(t, podName("r1", sampleIDs[0], 2), e.pods()[0].Name)
	e.now = e.now.Add(5 * time.Second)
	e.finish(podName("r1", sampleIDs[0], 2), 0, false)
	e.reconcileCase(name)
	tc = e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CasePassed, tc.Status.Phase)
	assert.False(t, tc.Status.Flaky, "a disruption does not make a test flaky")
	require.Len(t, tc.Status.History, 2, "every attempt is kept")
	assert.Equal(t, "passed", tc.Status.History[1].Status)
	assert.True(t, tc.Status.History[1].StartTime.After(first.FinishTime.Time))

	e.reconcileCase(name)
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase)
	xml, err := ReadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	assert.Contains(t, string(xml), `<property name="k8s-testrun.attempt.1.reason" value="Evicted">`)
}

func TestCaseInfraRetriesUsedUp(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) {
		r.Spec.Retries = 2
		r.Spec.InfraRetries = ptr.To(int32(0))
	}))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	e.evict(podName("r1", sampleIDs[0], 1))
	e.reconcileCase(name)
	tc := e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CaseError, tc.Status.Phase, "no infra retries, and test retries are not spent on it")
	assert.Equal(t, plan.ReasonEvicted, tc.Status.Reason)
	e.reconcileCase(name)
	e.reconcileRun("r1")
	assert.Empty(t, e.pods())
}
