package k8s

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func TestObserve(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := func(phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: "p", CreationTimestamp: metav1.NewTime(created),
				Labels: map[string]string{LabelCase: "c", LabelAttempt: "3"},
			},
			Spec:   corev1.PodSpec{ActiveDeadlineSeconds: ptr.To(int64(30))},
			Status: corev1.PodStatus{Phase: phase},
		}
	}
	terminated := func(phase corev1.PodPhase, code int32, reason string) *corev1.Pod {
		p := base(phase)
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name:  TestContainer,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}},
		}}
		return p
	}
	waiting := func(reason string) *corev1.Pod {
		p := base(corev1.PodPending)
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: TestContainer, Image: "img",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "boom"}},
		}}
		return p
	}
	unschedulable := base(corev1.PodPending)
	unschedulable.Status.Conditions = []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
	}}
	deadline := terminated(corev1.PodFailed, 137, "Error")
	deadline.Status.Reason = ReasonDeadlineExceeded
	runningWithCollector := terminated(corev1.PodRunning, 1, "Error")
	deleting := base(corev1.PodRunning)
	deleting.DeletionTimestamp = ptr.To(metav1.NewTime(created))

	opts := ObserveOptions{PendingTimeout: time.Minute}
	early, late := created.Add(10*time.Second), created.Add(2*time.Minute)
	tests := []struct {
		name   string
		pod    *corev1.Pod
		now    time.Time
		done   bool
		status plan.Status
		reason string
	}{
		{"pending", base(corev1.PodPending), late, false, "", ""},
		{"running", base(corev1.PodRunning), late, false, "", ""},
		{"passed", terminated(corev1.PodSucceeded, 0, "Completed"), early, true, plan.Passed, ""},
		{"failed", terminated(corev1.PodFailed, 1, "Error"), early, true, plan.Failed, ""},
		{"no tests", terminated(corev1.PodFailed, 5, "Error"), early, true, plan.Error, "NoTestCollected"},
		{"usage error", terminated(corev1.PodFailed, 4, "Error"), early, true, plan.Error, "PytestExit4"},
		{"oom", terminated(corev1.PodFailed, 137, ReasonOOMKilled), early, true, plan.Error, ReasonOOMKilled},
		{"killed", terminated(corev1.PodFailed, 143, "Error"), early, true, plan.Error, ReasonKilled},
		{"deadline", deadline, early, true, plan.Error, ReasonDeadlineExceeded},
		{"deadline before start", func() *corev1.Pod { p := base(corev1.PodFailed); p.Status.Reason = ReasonDeadlineExceeded; return p }(), early, true, plan.Error, ReasonDeadlineExceeded},
		{"test exited, collector running", runningWithCollector, early, false, "", ""},
		{"unschedulable within timeout", unschedulable, early, false, "", ""},
		{"unschedulable past timeout", unschedulable, late, true, plan.Error, ReasonUnschedulable},
		{"pull backoff", waiting("ImagePullBackOff"), early, true, plan.Error, ReasonImagePull},
		{"pull error within timeout", waiting("ErrImagePull"), early, false, "", ""},
		{"pull error past timeout", waiting("ErrImagePull"), late, true, plan.Error, ReasonImagePull},
		{"invalid image", waiting("InvalidImageName"), early, true, plan.Error, ReasonImagePull},
		{"config error past timeout", waiting("CreateContainerConfigError"), late, true, plan.Error, ReasonContainerConfig},
		{"container creating", waiting("ContainerCreating"), late, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Observe(tt.pod, tt.now, opts)
			assert.Equal(t, "p", got.Name)
			assert.Equal(t, "c", got.CaseID)
			assert.Equal(t, 3, got.Attempt)
			assert.Equal(t, tt.done, got.Done)
			assert.Equal(t, tt.status, got.Outcome.Status)
			assert.Equal(t, tt.reason, got.Outcome.Reason)
			if tt.reason != "" {
				assert.NotEmpty(t, got.Outcome.Message)
			}
		})
	}
	assert.True(t, Observe(deleting, early, opts).Deleting)
	assert.Contains(t, Observe(unschedulable, late, opts).Outcome.Message, "node affinity/selector")
	assert.Contains(t, Observe(deadline, early, opts).Outcome.Message, "30s")
}

func TestObserveTestExitEnds(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{LabelCase: "c", LabelAttempt: "1"}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: TestContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
				{Name: CollectorContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			},
		},
	}
	now := time.Now()
	assert.False(t, Observe(pod, now, ObserveOptions{}).Done, "a running collector normally holds the attempt open")
	got := Observe(pod, now, ObserveOptions{TestExitEnds: true})
	assert.True(t, got.Done, "a lingering collector must not hold the attempt open")
	assert.Equal(t, plan.Failed, got.Outcome.Status)
	assert.Equal(t, int32(1), got.Outcome.ExitCode)
}

// TestObserveNeverStarted: a pod scheduled on a node that reports nothing
// of it ends, after the pending timeout (at least a minute) from its
// scheduling, as the infrastructure's NodeLost, which runs again.
func TestObserveNeverStarted(t *testing.T) {
	scheduled := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.NewTime(scheduled.Add(-time.Second))},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(scheduled)},
		}},
	}
	opts := ObserveOptions{PendingTimeout: 20 * time.Second}
	assert.False(t, Observe(pod, scheduled.Add(59*time.Second), opts).Done, "under a minute, whatever the pending timeout")
	obs := Observe(pod, scheduled.Add(time.Minute), opts)
	require.True(t, obs.Done)
	assert.Equal(t, plan.ReasonNodeLost, obs.Outcome.Reason)
	assert.True(t, obs.Outcome.Disrupted(), "runs again as an infrastructure retry")
	assert.Contains(t, obs.Outcome.Message, "node-1")

	opts.PendingTimeout = 3 * time.Minute
	assert.False(t, Observe(pod, scheduled.Add(2*time.Minute), opts).Done, "the pending timeout when longer")

	waiting := pod.DeepCopy()
	waiting.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: TestContainer, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	assert.False(t, Observe(waiting, scheduled.Add(10*time.Minute), ObserveOptions{PendingTimeout: time.Minute}).Done, "a node that reports the pod is not lost")
}

// TestObserveDeadlineIgnored: a pod still running a minute past its
// activeDeadlineSeconds, which its kubelet should have enforced, ends as
// the infrastructure's NodeLost.
func TestObserveDeadlineIgnored(t *testing.T) {
	started := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.NewTime(started)},
		Spec:       corev1.PodSpec{NodeName: "node-1", ActiveDeadlineSeconds: ptr.To(int64(30))},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: ptr.To(metav1.NewTime(started)),
			ContainerStatuses: []corev1.ContainerStatus{{Name: TestContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}}}},
	}
	opts := ObserveOptions{PendingTimeout: time.Minute}
	assert.False(t, Observe(pod, started.Add(89*time.Second), opts).Done, "the kubelet has a minute past the deadline")
	obs := Observe(pod, started.Add(90*time.Second), opts)
	require.True(t, obs.Done)
	assert.Equal(t, plan.ReasonNodeLost, obs.Outcome.Reason)
	assert.True(t, obs.Outcome.Disrupted(), "runs again as an infrastructure retry")

	pod.Spec.ActiveDeadlineSeconds = nil
	assert.False(t, Observe(pod, started.Add(time.Hour), opts).Done, "no deadline, no limit")
}
