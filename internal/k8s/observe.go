package k8s

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// Infrastructure reasons an attempt can end with. They make a case an error,
// never a test failure.
const (
	ReasonDeadlineExceeded = "DeadlineExceeded"
	ReasonOOMKilled        = "OOMKilled"
	ReasonUnschedulable    = "Unschedulable"
	ReasonImagePull        = "ImagePullFailed"
	ReasonContainerConfig  = "CreateContainerFailed"
	ReasonKilled           = "Killed"
	ReasonNoExit           = "NoExitCode"
)

// ObserveOptions bounds how long a pod may wait before it counts as stuck.
type ObserveOptions struct {
	// PendingTimeout is how long a pod may stay unschedulable or fail to
	// pull its image before the attempt ends as an error.
	PendingTimeout time.Duration
	// TestExitEnds ends the attempt when the test container exits, even
	// while the collector still runs: a collector that lingers keeps the pod
	// running after it has shipped the results.
	TestExitEnds bool
	// LogLimit, when set below MaxOneOffLog, is the most RunOnce reads of
	// the pod's log; a longer log is a *LogTooLargeError.
	LogLimit int64
	// NodeLoss, when set, ends an attempt whose pod is on a lost node.
	NodeLoss *NodeLoss
}

// Observe turns a pod into the plan's view of it. It is pure: the decision
// to give up on a stuck pod depends only on the pod and now.
func Observe(pod *corev1.Pod, now time.Time, opts ObserveOptions) plan.Pod {
	attempt, _ := strconv.Atoi(pod.Labels[LabelAttempt])
	p := plan.Pod{
		Name:     pod.Name,
		CaseID:   pod.Labels[LabelCase],
		Attempt:  attempt,
		Deleting: pod.DeletionTimestamp != nil,
	}
	if ids := pod.Annotations[AnnotationCases]; ids != "" {
		p.Cases = strings.Split(ids, ",")
	}
	if out, ok := outcome(pod, now, opts); ok {
		p.Done, p.Outcome = true, out
	} else if out, ok := opts.NodeLoss.Outcome(pod, now); ok {
		p.Done, p.Outcome = true, out
	}
	return p
}

func outcome(pod *corev1.Pod, now time.Time, opts ObserveOptions) (plan.Outcome, bool) {
	test := containerStatus(pod, TestContainer)
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		if pod.Status.Reason == ReasonDeadlineExceeded {
			return infra(ReasonDeadlineExceeded, fmt.Sprintf("test did not finish within the timeout of %ds", deadline(pod))), true
		}
		if o, ok := disrupted(pod, test); ok {
			return o, true
		}
		if test == nil || test.State.Terminated == nil {
			msg := pod.Status.Message
			if msg == "" {
				msg = "the test container ended without an exit code"
			}
			return infra(ReasonNoExit, msg), true
		}
		return exited(test.State.Terminated), true
	case corev1.PodPending, corev1.PodRunning, "":
		// A pod being taken away ends its attempt now: its test is about
		// to be stopped, and the pod may vanish before it shows an exit.
		if o, ok := disrupted(pod, test); ok {
			return o, true
		}
	default:
		return infra(ReasonNoExit, fmt.Sprintf("pod phase %s: %s", pod.Status.Phase, pod.Status.Message)), true
	}
	// The test container may have exited while the collector still runs.
	if test != nil && test.State.Terminated != nil && pod.Status.Phase == corev1.PodRunning {
		// Without native sidecars, services keep the pod running once the
		// test and the collector are done.
		if opts.TestExitEnds || collectorExited(pod) {
			return exited(test.State.Terminated), true
		}
		return plan.Outcome{}, false
	}
	stuckFor := now.Sub(pod.CreationTimestamp.Time)
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && stuckFor >= opts.PendingTimeout {
			return infra(ReasonUnschedulable, fmt.Sprintf("not scheduled within %s: %s", opts.PendingTimeout, c.Message)), true
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		w := cs.State.Waiting
		if w == nil {
			continue
		}
		switch w.Reason {
		case "InvalidImageName":
			return infra(ReasonImagePull, fmt.Sprintf("image %q: %s", cs.Image, w.Message)), true
		case "ErrImagePull", "ImagePullBackOff":
			if stuckFor >= opts.PendingTimeout || w.Reason == "ImagePullBackOff" {
				return infra(ReasonImagePull, fmt.Sprintf("image %q could not be pulled: %s", cs.Image, w.Message)), true
			}
		case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
			if stuckFor >= opts.PendingTimeout {
				return infra(ReasonContainerConfig, fmt.Sprintf("container %s: %s: %s", cs.Name, w.Reason, w.Message)), true
			}
		}
	}
	if msg, ok := serviceNotReady(pod, stuckFor, opts); ok {
		return infra(ReasonServiceNotReady, msg), true
	}
	if msg, ok := neverStarted(pod, now, opts); ok {
		return infra(plan.ReasonNodeLost, msg), true
	}
	if msg, ok := deadlineIgnored(pod, now); ok {
		return infra(plan.ReasonNodeLost, msg), true
	}
	return plan.Outcome{}, false
}

// exited maps the test container's exit to a preliminary verdict. pytest's
// exit codes: 0 all passed, 1 tests failed, 2 interrupted, 3 internal error,
// 4 usage error, 5 no tests collected. The per-test JUnit refines 0 and 1
// (skipped, xfail, errors in fixtures) once the results are read.
func exited(t *corev1.ContainerStateTerminated) plan.Outcome {
	code := t.ExitCode
	switch {
	case t.Reason == ReasonOOMKilled:
		o := infra(ReasonOOMKilled, "the test container was killed for exceeding its memory limit")
		o.ExitCode = code
		return o
	case code == layout.ExitServiceNotReady && strings.Contains(t.Message, layout.ServiceNotReadyPrefix):
		// The shim's own last line, written before pytest ever started.
		msg := t.Message[strings.LastIndex(t.Message, layout.ServiceNotReadyPrefix)+len(layout.ServiceNotReadyPrefix):]
		msg, _, _ = strings.Cut(msg, "\n")
		o := infra(ReasonServiceNotReady, msg)
		o.ExitCode = code
		return o
	case code == 0:
		return plan.Outcome{Status: plan.Passed}
	case code == 1:
		return plan.Outcome{Status: plan.Failed, ExitCode: 1}
	case code == 5:
		return plan.Outcome{Status: plan.Error, ExitCode: 5, Reason: "NoTestCollected", Message: "pytest collected no test for this id"}
	case code > 128:
		o := infra(ReasonKilled, fmt.Sprintf("the test process was killed by signal %d", code-128))
		o.ExitCode = code
		return o
	default:
		return plan.Outcome{Status: plan.Error, ExitCode: code, Reason: "PytestExit" + strconv.Itoa(int(code)), Message: fmt.Sprintf("pytest exited with code %d", code)}
	}
}

func infra(reason, msg string) plan.Outcome {
	return plan.Outcome{Status: plan.Error, ExitCode: -1, Reason: reason, Message: msg}
}

func deadline(pod *corev1.Pod) int64 {
	if pod.Spec.ActiveDeadlineSeconds == nil {
		return 0
	}
	return *pod.Spec.ActiveDeadlineSeconds
}

func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == name {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// minNeverStarted is the least time a scheduled pod may go without a word
// from its node before neverStarted gives up on it.
const minNeverStarted = time.Minute

// neverStarted says the pod's node has reported nothing of it, not even a
// container waiting, for the pending timeout (at least minNeverStarted)
// since it was scheduled there: the node went away or dropped it. The
// attempt is the infrastructure's, and runs again in a fresh pod.
func neverStarted(pod *corev1.Pod, now time.Time, opts ObserveOptions) (string, bool) {
	if pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" {
		return "", false
	}
	if len(pod.Status.ContainerStatuses) > 0 || len(pod.Status.InitContainerStatuses) > 0 {
		return "", false
	}
	after := max(opts.PendingTimeout, minNeverStarted)
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue && now.Sub(c.LastTransitionTime.Time) >= after {
			return fmt.Sprintf("scheduled on node %s, which reported nothing of the pod within %s", pod.Spec.NodeName, after), true
		}
	}
	return "", false
}

// deadlineGrace is how long past a pod's activeDeadlineSeconds its node
// may take to end it.
const deadlineGrace = time.Minute

// deadlineIgnored says the pod still runs a minute past its deadline: the
// kubelet ends a pod at its deadline, so its node has stopped doing its
// work. The attempt is the infrastructure's, and runs again.
func deadlineIgnored(pod *corev1.Pod, now time.Time) (string, bool) {
	d := deadline(pod)
	if d == 0 || pod.Status.StartTime == nil {
		return "", false
	}
	limit := time.Duration(d)*time.Second + deadlineGrace
	if now.Sub(pod.Status.StartTime.Time) < limit {
		return "", false
	}
	return fmt.Sprintf("still running on node %s %s after its start, past its deadline of %ds: the node no longer ends its pods", pod.Spec.NodeName, limit, d), true
}
