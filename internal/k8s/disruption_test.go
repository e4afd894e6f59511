package k8s

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// DisruptedPod is a test pod that the infrastructure takes away while (or
// after) its test runs: the shapes the API server shows for each cause.
// The runner's tests use the same shapes.
func disruptedPod(cause string, at time.Time) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{LabelCase: "c", LabelAttempt: "1"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: TestContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		}},
	}
	condition := func(reason string) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reason,
			Message: "by " + reason, LastTransitionTime: metav1.NewTime(at),
		})
	}
	deleted := func(grace int64) {
		p.DeletionTimestamp = ptr.To(metav1.NewTime(at.Add(time.Duration(grace) * time.Second)))
		p.DeletionGracePeriodSeconds = ptr.To(grace)
	}
	sigterm := func() {
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 143, Reason: "Error", FinishedAt: metav1.NewTime(at.Add(time.Second)),
		}}
	}
	switch cause {
	case "deleted":
		deleted(30)
	case "deleted, then SIGTERM":
		deleted(30)
		sigterm()
	case "eviction api":
		condition(disruptionEvictionAPI)
		deleted(30)
	case "preempted":
		condition(disruptionPreemption)
		deleted(30)
	case "taint manager":
		condition(disruptionTaint)
		deleted(30)
	case "pod gc, never started":
		condition(disruptionPodGC)
		deleted(0)
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = nil
	case "node pressure":
		condition(disruptionKubelet)
		sigterm()
		p.Status.Reason = "Evicted"
	case "node shutdown":
		condition(disruptionKubelet)
		sigterm()
		p.Status.Reason = "Terminated"
	case "node lost":
		p.Status.Reason = "NodeLost"
	case "kubelet restart rejected":
		p.Status.Phase = corev1.PodFailed
		p.Status.Reason = "UnexpectedAdmissionError"
		p.Status.ContainerStatuses = nil
	case "evicted, SIGTERM handled as exit 1":
		condition(disruptionEvictionAPI)
		deleted(30)
		sigterm()
		p.Status.ContainerStatuses[0].State.Terminated.ExitCode = 1
	case "failed, then deleted":
		sigterm()
		p.Status.ContainerStatuses[0].State.Terminated.ExitCode = 1
		p.Status.ContainerStatuses[0].State.Terminated.FinishedAt = metav1.NewTime(at.Add(-time.Minute))
		deleted(30)
	case "passed, then evicted":
		condition(disruptionEvictionAPI)
		deleted(30)
		sigterm()
		p.Status.ContainerStatuses[0].State.Terminated.ExitCode = 0
	case "killed itself":
		sigterm()
	}
	return p
}

func TestObserveDisruptions(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		cause  string
		status plan.Status
		reason string
		exit   int32
	}{
		{"deleted", plan.Error, plan.ReasonPodDeleted, -1},
		{"deleted, then SIGTERM", plan.Error, plan.ReasonPodDeleted, 143},
		{"eviction api", plan.Error, plan.ReasonEvicted, -1},
		{"preempted", plan.Error, plan.ReasonPreempted, -1},
		{"taint manager", plan.Error, plan.ReasonNodeLost, -1},
		{"pod gc, never started", plan.Error, plan.ReasonNodeLost, -1},
		{"node pressure", plan.Error, plan.ReasonEvicted, 143},
		{"node shutdown", plan.Error, plan.ReasonKubelet, 143},
		{"node lost", plan.Error, plan.ReasonNodeLost, -1},
		{"kubelet restart rejected", plan.Error, plan.ReasonKubelet, -1},
		{"evicted, SIGTERM handled as exit 1", plan.Error, plan.ReasonEvicted, 1},
		// The test's own verdicts stand.
		{"failed, then deleted", plan.Failed, "", 1},
		{"passed, then evicted", plan.Passed, "", 0},
		{"killed itself", plan.Error, ReasonKilled, 143},
	}
	for _, tt := range tests {
		t.Run(tt.cause, func(t *testing.T) {
			got := Observe(disruptedPod(tt.cause, at), at.Add(2*time.Second), ObserveOptions{PendingTimeout: time.Minute})
			assert.True(t, got.Done, "a disrupted pod ends its attempt at once")
			assert.Equal(t, tt.status, got.Outcome.Status)
			assert.Equal(t, tt.reason, got.Outcome.Reason)
			assert.Equal(t, tt.exit, got.Outcome.ExitCode)
			assert.Equal(t, tt.reason != "" && tt.reason != ReasonKilled, got.Outcome.Disrupted())
			if tt.reason != "" {
				assert.NotEmpty(t, got.Outcome.Message)
			}
		})
	}
}

func TestDisruptionMessageNamesTheCause(t *testing.T) {
	at := time.Now()
	msg := Observe(disruptedPod("preempted", at), at, ObserveOptions{}).Outcome.Message
	assert.Contains(t, msg, "preempted by the scheduler")
	assert.Contains(t, msg, "by PreemptionByScheduler")
	msg = Observe(disruptedPod("deleted", at), at, ObserveOptions{}).Outcome.Message
	assert.Contains(t, msg, "deleted before the test finished")
}
