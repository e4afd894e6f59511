package runner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// TestObservationsAreReusedWhileThePodIsUnchanged: an unchanged pod's
// observation is reused; a new resourceVersion is observed at once; a
// pending pod's time-based end (unschedulable past the pending timeout)
// shows within observationFresh although the pod did not change; an ended
// pod's observation is kept until forgotten.
func TestObservationsAreReusedWhileThePodIsUnchanged(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	opts := k8s.ObserveOptions{PendingTimeout: time.Minute}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p1", ResourceVersion: "10", CreationTimestamp: metav1.NewTime(t0),
			Labels: map[string]string{k8s.LabelCase: "c1", k8s.LabelAttempt: "1"}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes"}}},
	}
	var o observations
	first := o.observe(pod, t0, opts)
	assert.False(t, first.Done)

	// The same resourceVersion: the kept observation, though the object
	// handed in now says Succeeded (an informer never does that; it shows
	// that nothing was observed again).
	same := pod.DeepCopy()
	same.Status.Phase = corev1.PodSucceeded
	assert.False(t, o.observe(same, t0.Add(observationFresh/2), opts).Done, "reused within observationFresh")

	// A new resourceVersion is observed at once.
	changed := same.DeepCopy()
	changed.ResourceVersion = "11"
	changed.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: k8s.TestContainer,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}
	got := o.observe(changed, t0.Add(observationFresh/2), opts)
	assert.True(t, got.Done)
	assert.Equal(t, "failed", string(got.Outcome.Status))

	// An ended pod's observation is kept past observationFresh.
	assert.True(t, o.observe(changed, t0.Add(time.Hour), opts).Done)
	o.forget("p1")
	assert.Empty(t, o)

	// An unchanged pending pod past the pending timeout ends at the first
	// look after observationFresh.
	at := t0.Add(time.Minute - observationFresh/2)
	assert.False(t, o.observe(pod, at, opts).Done, "not yet past the pending timeout")
	assert.False(t, o.observe(pod, at.Add(observationFresh-time.Millisecond), opts).Done, "reused, though past the timeout now")
	late := o.observe(pod, at.Add(observationFresh), opts)
	assert.True(t, late.Done, "unschedulable past the pending timeout, seen within observationFresh")
	assert.Equal(t, k8s.ReasonUnschedulable, late.Outcome.Reason)

	// A pod without a resourceVersion (none from a watch) is never reused.
	var fresh observations
	bare := pod.DeepCopy()
	bare.ResourceVersion = ""
	fresh.observe(bare, t0, opts)
	bare.Status.Phase = corev1.PodSucceeded
	bare.Status.ContainerStatuses = changed.Status.ContainerStatuses
	assert.True(t, fresh.observe(bare, t0, opts).Done)
}
