package k8s

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// Reasons of the DisruptionTarget condition the control plane and the
// kubelet set on a pod they are about to take away.
const (
	disruptionEvictionAPI = "EvictionByEvictionAPI"
	disruptionPreemption  = "PreemptionByScheduler"
	disruptionTaint       = "DeletionByTaintManager"
	disruptionPodGC       = "DeletionByPodGC"
	disruptionKubelet     = "TerminationByKubelet"
)

// podReasons maps pod status reasons that mean the infrastructure ended
// the pod to the plan's disruption reasons: the kubelet's node-pressure
// eviction, the node controller's NodeLost, the kubelet's graceful node
// shutdown (Terminated, and NodeShutdown for a pod not admitted during
// one) and a pod the kubelet rejected on admission after a restart.
var podReasons = map[string]string{
	"Evicted":                  plan.ReasonEvicted,
	"NodeLost":                 plan.ReasonNodeLost,
	"Terminated":               plan.ReasonKubelet,
	"NodeShutdown":             plan.ReasonKubelet,
	"UnexpectedAdmissionError": plan.ReasonKubelet,
}

// disruption is what took a pod away, and since when.
type disruption struct {
	reason, message string
	// since is when the disruption began; zero when the pod does not say.
	since time.Time
}

// disruptionOf finds the sign that the infrastructure is taking the pod
// away: a DisruptionTarget condition, a pod status reason of the kind, or a
// deletion. A driver deletes a test pod only once it has collected it, so a
// deletion seen on an uncollected pod is someone else's.
func disruptionOf(pod *corev1.Pod) (disruption, bool) {
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.DisruptionTarget || c.Status != corev1.ConditionTrue {
			continue
		}
		d := disruption{since: c.LastTransitionTime.Time}
		switch c.Reason {
		case disruptionEvictionAPI:
			d.reason, d.message = plan.ReasonEvicted, "the pod was evicted through the Eviction API"
		case disruptionPreemption:
			d.reason, d.message = plan.ReasonPreempted, "the pod was preempted by the scheduler"
		case disruptionTaint:
			d.reason, d.message = plan.ReasonNodeLost, "the pod was deleted by the taint manager (its node is unreachable or tainted NoExecute)"
		case disruptionPodGC:
			d.reason, d.message = plan.ReasonNodeLost, "the pod was deleted by the pod garbage collector (its node is gone)"
		case disruptionKubelet:
			d.reason, d.message = plan.ReasonKubelet, "the pod was terminated by the kubelet"
			if r := podReasons[pod.Status.Reason]; r != "" {
				d.reason = r
			}
		default:
			d.reason, d.message = plan.ReasonPodDeleted, "the pod was disrupted ("+c.Reason+")"
		}
		if c.Message != "" {
			d.message += ": " + c.Message
		}
		return d, true
	}
	if r := podReasons[pod.Status.Reason]; r != "" {
		msg := "the pod ended with reason " + pod.Status.Reason
		if pod.Status.Message != "" {
			msg += ": " + pod.Status.Message
		}
		return disruption{reason: r, message: msg}, true
	}
	if dt := pod.DeletionTimestamp; dt != nil {
		since := dt.Time
		if g := pod.DeletionGracePeriodSeconds; g != nil {
			since = since.Add(-time.Duration(*g) * time.Second)
		}
		return disruption{reason: plan.ReasonPodDeleted, message: "the pod was deleted before the test finished, not by k8s-testrun", since: since}, true
	}
	return disruption{}, false
}

// disrupted gives the outcome of a pod the infrastructure took away, unless
// its test had already ended on its own: a test that passed stays passed,
// and one that failed before the disruption began keeps its failure. A test
// stopped by a signal, or ending once the disruption began (a test that
// handles SIGTERM), was taken away. A test that kills itself with a signal
// shows no disruption and stays the test's own failure.
func disrupted(pod *corev1.Pod, test *corev1.ContainerStatus) (plan.Outcome, bool) {
	d, ok := disruptionOf(pod)
	if !ok {
		return plan.Outcome{}, false
	}
	o := plan.Outcome{Status: plan.Error, ExitCode: -1, Reason: d.reason, Message: d.message}
	if test == nil || test.State.Terminated == nil {
		return o, true
	}
	t := test.State.Terminated
	ownExit := t.ExitCode == 0 || (t.ExitCode <= 128 && !d.since.IsZero() && t.FinishedAt.Time.Before(d.since))
	if ownExit {
		return exited(t), true
	}
	o.ExitCode = t.ExitCode
	o.Message += fmt.Sprintf(" (the test exited with code %d)", t.ExitCode)
	return o, true
}
