package runner

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// disrupt plays the cluster taking a running test pod away, the way the API
// server shows each cause.
func disrupt(ctx context.Context, t *testing.T, client *fake.Clientset, pod *corev1.Pod, cause string) {
	pods := client.CoreV1().Pods("ns")
	now := metav1.Now()
	condition := func(reason string) {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: now,
		})
	}
	sigterm := func() {
		pod.Status.Phase = corev1.PodFailed
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: k8s.TestContainer, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 143, FinishedAt: metav1.NewTime(now.Add(time.Second))},
		}}}
	}
	switch cause {
	case "deleted":
		// Gone at once, as with a force delete or a deletion that ended
		// before the runner looked.
		require.NoError(t, pods.Delete(ctx, pod.Name, metav1.DeleteOptions{}))
		return
	case "eviction api":
		condition("EvictionByEvictionAPI")
		pod.DeletionTimestamp = ptr.To(metav1.NewTime(now.Add(30 * time.Second)))
		pod.DeletionGracePeriodSeconds = ptr.To(int64(30))
	case "preempted":
		condition("PreemptionByScheduler")
		pod.DeletionTimestamp = ptr.To(metav1.NewTime(now.Add(30 * time.Second)))
		pod.DeletionGracePeriodSeconds = ptr.To(int64(30))
	case "node pressure":
		condition("TerminationByKubelet")
		sigterm()
		pod.Status.Reason = "Evicted"
	case "killed itself":
		sigterm()
	}
	_, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// disruptingKubelet runs each pod for a moment: the first attempts of the
// tests named in causes are taken away (up to takes times each), every
// other attempt passes.
func disruptingKubelet(ctx context.Context, t *testing.T, client *fake.Clientset, causes map[string]string, takes int) *[]string {
	w, err := client.CoreV1().Pods("ns").Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	created := &[]string{}
	taken := map[string]int{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			pod := ev.Object.(*corev1.Pod).DeepCopy()
			*created = append(*created, pod.Name)
			id := pod.Annotations[k8s.AnnotationTestID]
			pod.Spec.NodeName = "node-1"
			pod.Status.Phase = corev1.PodRunning
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: k8s.TestContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
			_, err := client.CoreV1().Pods("ns").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
			require.NoError(t, err)
			time.Sleep(10 * time.Millisecond)
			if cause, ok := causes[id]; ok && taken[id] < takes {
				taken[id]++
				disrupt(ctx, t, client, pod, cause)
				continue
			}
			pod.Status.Phase = corev1.PodSucceeded
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: k8s.TestContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
			_, _ = client.CoreV1().Pods("ns").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		}
	}()
	return created
}

// TestRunInfraRetries: a test whose pod the cluster takes away runs again
// and passes; it is not the test's failure, not flaky, and every attempt is
// kept with its reason. A test that kills itself is not retried.
func TestRunInfraRetries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	causes := map[string]string{
		"t.py::deleted": "deleted", "t.py::evicted": "eviction api", "t.py::preempted": "preempted",
		"t.py::pressure": "node pressure", "t.py::suicide": "killed itself",
	}
	disruptingKubelet(ctx, t, client, causes, 1)
	res, err := Run(ctx, Options{Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases:       cases("t.py::deleted", "t.py::evicted", "t.py::preempted", "t.py::pressure", "t.py::suicide", "t.py::plain"),
		Parallelism: 2, MaxAttempts: 1, InfraRetries: 2, Resync: 20 * time.Millisecond})
	require.NoError(t, err)
	want := map[string]string{
		"t.py::deleted": plan.ReasonPodDeleted, "t.py::evicted": plan.ReasonEvicted,
		"t.py::preempted": plan.ReasonPreempted, "t.py::pressure": plan.ReasonEvicted,
	}
	for _, cr := range res {
		id := cr.Case.TestID
		switch reason, ok := want[id]; {
		case ok:
			assert.Equal(t, plan.Passed, cr.Status, id)
			assert.False(t, cr.Flaky, "a disruption is no failure of the test: %s", id)
			require.Len(t, cr.Attempts, 2, id)
			assert.Equal(t, reason, cr.Attempts[0].Outcome.Reason, id)
			assert.True(t, cr.Attempts[0].Outcome.Disrupted(), id)
			assert.Equal(t, []int{1, 2}, []int{cr.Attempts[0].Number, cr.Attempts[1].Number}, id)
		case id == "t.py::suicide":
			assert.Equal(t, plan.Error, cr.Status)
			require.Len(t, cr.Attempts, 1, "a test that kills itself is not retried as infrastructure")
			assert.Equal(t, k8s.ReasonKilled, cr.Attempts[0].Outcome.Reason)
		default:
			assert.Equal(t, plan.Passed, cr.Status, id)
			assert.Len(t, cr.Attempts, 1, id)
		}
	}
	rep := report.NewReport("r1", "img", "", time.Now(), time.Second, res)
	c := rep.Counts()
	assert.Equal(t, 5, c.Passed)
	assert.Equal(t, 0, c.Flaky)
}

// TestRunInfraRetriesExhausted: a test whose pod is taken away every time
// ends, after 1 + InfraRetries attempts, as an infrastructure error that
// keeps every attempt; the test retries are not spent on it.
func TestRunInfraRetriesExhausted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	created := disruptingKubelet(ctx, t, client, map[string]string{"t.py::doomed": "deleted"}, 100)
	res, err := Run(ctx, Options{Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases: cases("t.py::doomed"), Parallelism: 1, MaxAttempts: 3, InfraRetries: 1, Resync: 20 * time.Millisecond})
	require.NoError(t, err)
	require.Len(t, res, 1)
	cr := res[0]
	assert.True(t, cr.Final)
	assert.Equal(t, plan.Error, cr.Status)
	require.Len(t, cr.Attempts, 2, "the first attempt and one infra retry, no test retry")
	for _, at := range cr.Attempts {
		assert.Equal(t, plan.ReasonPodDeleted, at.Outcome.Reason)
	}
	assert.Len(t, *created, 2)
	rep := report.NewReport("r1", "img", "", time.Now(), time.Second, res)
	assert.Equal(t, 1, rep.Counts().Infra)
	assert.Equal(t, 2, rep.ExitCode(0, 1, 2), "an infrastructure error")
}
