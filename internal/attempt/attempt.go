package attempt

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// Attempt is one collected attempt of a case.
type Attempt struct {
	Number  int
	Pod     string
	Node    string
	Outcome plan.Outcome
	// Started and Finished are the test's run, when it ran: the test
	// container's, or in a unit's pod, the test's own.
	Started, Finished time.Time
	Results           Results
	// ResultErr says why no results could be read; the outcome stands.
	ResultErr error
	// Timeline is the pod's; in a unit's pod, every case shares it.
	Timeline Timeline
	// PodUID tells this pod from another of the same name.
	PodUID string
}

// logLimit bounds how much of a collector log is read: the block is
// capped by the collector, this only guards against a runaway log.
const logLimit = 64 << 20

// Collect reads the results of a finished attempt from its
// collector's log and settles its outcome. It also returns the log as read,
// so a caller can keep the results (the operator stores them). A missing or
// unreadable result is reported in Attempt.ResultErr; the outcome stands.
func Collect(ctx context.Context, client kubernetes.Interface, p *corev1.Pod, number int, opts k8s.ObserveOptions) (Attempt, []byte) {
	return CollectWithClock(ctx, clock.RealClock{}, client, p, number, opts)
}

// CollectWithClock is Collect with the clock that paces the wait for a
// running collector's block; nil means the real clock (tests step a fake
// one).
func CollectWithClock(ctx context.Context, clk clock.Clock, client kubernetes.Interface, p *corev1.Pod, number int, opts k8s.ObserveOptions) (Attempt, []byte) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	obs := k8s.Observe(p, time.Now(), opts)
	at := Attempt{Number: number, Pod: p.Name, PodUID: string(p.UID), Node: p.Spec.NodeName, Outcome: obs.Outcome}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == k8s.TestContainer && cs.State.Terminated != nil {
			at.Started = cs.State.Terminated.StartedAt.Time
			at.Finished = cs.State.Terminated.FinishedAt.Time
		}
		if cs.Name == k8s.TestContainer && cs.State.Running != nil && obs.Outcome.Disrupted() {
			// Taken away mid-test: it ran from its start until now.
			at.Started = cs.State.Running.StartedAt.Time
		}
	}
	if at.Finished.IsZero() && obs.Outcome.Disrupted() {
		at.Finished = time.Now()
	}
	var log []byte
	switch {
	case obs.Outcome.Reason == plan.ReasonNodeLost:
		// The log is on the node, whose kubelet does not answer.
		return Lost(p, number, obs.Outcome, at.Finished), nil
	case collectorRan(p):
		var err error
		// A collector still running may not have printed its block yet: it
		// polls for the done marker. Give it a moment, bounded.
		deadline := clk.Now().Add(BlockWait)
		for {
			log, err = k8s.Logs(ctx, client, p.Namespace, p.Name, k8s.CollectorContainer, logLimit)
			if err == nil {
				at.Results, err = ParseResults(log)
			}
			unfinished := errors.Is(err, transport.ErrNoBlock) || errors.Is(err, transport.ErrTruncated)
			if !unfinished || !CollectorRunning(p) || !clk.Now().Before(deadline) || !sleep(ctx, clk, 100*time.Millisecond) {
				break
			}
		}
		at.ResultErr = err
	default:
		at.ResultErr = errors.New("the collector never started")
	}
	if !at.Results.TestStart.IsZero() {
		at.Started, at.Finished = at.Results.TestStart, at.Results.TestExit
	}
	at.Outcome = Settle(at.Outcome, at.Results)
	return at, log
}

// Lost is the attempt of a pod lost with its node, as of now: its outcome
// is the node's loss (k8s.NodeLoss), and its results, on the node, are not
// read.
func Lost(p *corev1.Pod, number int, o plan.Outcome, now time.Time) Attempt {
	at := Attempt{Number: number, Pod: p.Name, PodUID: string(p.UID), Node: p.Spec.NodeName, Outcome: o, Finished: now,
		ResultErr: errors.New("results not read: the pod's node is lost")}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == k8s.TestContainer && cs.State.Running != nil {
			at.Started = cs.State.Running.StartedAt.Time
		}
	}
	return at
}

func sleep(ctx context.Context, clk clock.Clock, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-clk.After(d):
		return true
	}
}

// BlockWait bounds how long a running collector's log is read again for a
// block it has not printed yet.
const BlockWait = 2 * time.Second

// CollectorRunning reports a pod whose collector container runs.
func CollectorRunning(p *corev1.Pod) bool {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.Name == k8s.CollectorContainer {
			return cs.State.Running != nil
		}
	}
	return false
}

// collectorRan reports a pod whose collector container started, whether or
// not it still runs.
func collectorRan(p *corev1.Pod) bool {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.Name == k8s.CollectorContainer {
			return cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil
		}
	}
	return false
}
