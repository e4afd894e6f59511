package runner

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// watchNodes starts the watch of the nodes' readiness, unless it is turned
// off or the run may not list nodes (a namespace-scoped Role): then a lost
// node's pods end by the older signs only (the taint manager's eviction,
// a deadline the node ignores). It returns the channel of node changes,
// nil without a watch. The caller shuts r.nodes down.
func (r *run) watchNodes(ctx context.Context) <-chan struct{} {
	if r.o.NodeLostAfter < 0 {
		return nil
	}
	nw, err := k8s.NewNodeWatcher(r.o.Client, nil)
	if err == nil {
		err = nw.Start(ctx)
	}
	if err != nil {
		r.o.Logger.Info("not watching the nodes: a lost node's pods end only when the cluster evicts them or past their timeout; grant list and watch on nodes to end them within a minute", "error", err)
		return nil
	}
	r.nodes = nw
	return nw.Changed()
}

// observe is k8s.Observe, and ends an attempt whose pod runs on a node
// that has been not ready for NodeLostAfter as NodeLost. A pod once lost
// stays lost until collected, even if its node comes back: the run has
// given up on it and deletes it.
func (r *run) observe(p *corev1.Pod, now time.Time) plan.Pod {
	return r.withNodeLoss(p, k8s.Observe(p, now, r.observeOptions()), now)
}

// withNodeLoss ends obs, the observation of p, as NodeLost when p's node
// has been lost: see observe.
func (r *run) withNodeLoss(p *corev1.Pod, obs plan.Pod, now time.Time) plan.Pod {
	if o, ok := r.lost[p.Name]; ok {
		obs.Done, obs.Outcome = true, o
		return obs
	}
	if obs.Done || r.nodes == nil {
		return obs
	}
	o, ok := (&k8s.NodeLoss{Nodes: r.nodes, After: r.o.NodeLostAfter}).Outcome(p, now)
	if !ok {
		return obs
	}
	r.lost[p.Name] = o
	r.o.Logger.Info("node lost: ending its pod, its tests run again", "node", p.Spec.NodeName, "pod", p.Name, "why", o.Message)
	obs.Done, obs.Outcome = true, o
	return obs
}

// lostAttempt is the attempt of a pod lost with its node: its outcome is
// the node's loss, and its results stay on the node.
func lostAttempt(p *corev1.Pod, o plan.Outcome, now time.Time) attempt.Attempt {
	return attempt.Lost(p, 0, o, now)
}
