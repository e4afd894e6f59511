package operator

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// Node loss in operator mode follows direct mode's rule (k8s.NodeLoss): a
// pod whose node has been not ready for the run's nodeLostAfter ends as
// NodeLost, its attempt is recorded without results (they are on the
// node), the pod is deleted at once, and the test runs again as an
// infrastructure retry. The reconcilers judge it as they observe a pod; the
// nodeWaker makes sure they look, as a window elapses without any event.

// watchNodes starts the watch of the nodes' readiness, or says in one line
// why the operator goes on without (typically no list and watch on nodes).
func watchNodes(ctx context.Context, clientset kubernetes.Interface, log logr.Logger) *k8s.NodeWatcher {
	nw, err := k8s.NewNodeWatcher(clientset, nil)
	if err == nil {
		err = nw.Start(ctx)
	}
	if err != nil {
		log.Info("not watching nodes: a lost node's pods end only when the cluster evicts them or past their timeout; grant list and watch on nodes (manifests/rbac/nodes_role.yaml) to end them within a minute", "error", err.Error())
		return nil
	}
	return nw
}

// nodeLossOf is the node-loss rule of run; nil without a node watch.
func nodeLossOf(run *v1alpha1.TestRun, nodes *k8s.NodeWatcher) *k8s.NodeLoss {
	if nodes == nil {
		return nil
	}
	after := k8s.DefaultNodeLostAfter
	if d := run.Spec.NodeLostAfter; d != nil && d.Duration > 0 {
		after = d.Duration
	}
	return &k8s.NodeLoss{Nodes: nodes, After: after}
}

// collectOrLose reads a finished attempt with collect, unless its pod was
// lost with its node: then the attempt is the loss, as of now, and the log,
// on a node that no longer answers, is not read.
func collectOrLose(ctx context.Context, collect CollectFunc, pod *corev1.Pod, number int, s settings, now time.Time) (attempt.Attempt, []byte) {
	obs := k8s.Observe(pod, now, s.observeOptions())
	if pod.Annotations[annotationVanished] != "" {
		return vanishedAttempt(pod, number, obs.Outcome, now), nil
	}
	if obs.Outcome.Reason == plan.ReasonNodeLost {
		return attempt.Lost(pod, number, obs.Outcome, now), nil
	}
	return collect(ctx, pod, number, s.observeOptions())
}

// nodeWakeTick is how often the reconcilers of pods on not-ready nodes are
// woken while any node is down: how late past its window a pod may end.
const nodeWakeTick = 2 * time.Second

// nodeWaker wakes the reconcilers of the pods on nodes not ready: when a
// node's readiness changes, and every tick while any node is down, since a
// run's window elapses with no event. It sends each such pod to runs (for
// the TestRun reconciler, which collects the pods of units) and cases (for
// the TestCase reconciler). It is a manager.Runnable, run by the leader.
type nodeWaker struct {
	nodes *k8s.NodeWatcher
	pods  client.Reader
	tick  time.Duration
	runs  chan event.GenericEvent
	cases chan event.GenericEvent
}

func newNodeWaker(nodes *k8s.NodeWatcher, pods client.Reader) *nodeWaker {
	return &nodeWaker{nodes: nodes, pods: pods, tick: nodeWakeTick, runs: make(chan event.GenericEvent, 64), cases: make(chan event.GenericEvent, 64)}
}

// Start wakes until ctx ends.
func (w *nodeWaker) Start(ctx context.Context) error {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.nodes.Changed():
		case <-t.C:
		}
		w.wake(ctx)
	}
}

// wake sends every pod of k8s-testrun that has not ended on a node not
// ready. The manager's cache holds only k8s-testrun's pods, so the list
// is as long as the runs' pods, and it is read only while a node is down.
func (w *nodeWaker) wake(ctx context.Context) {
	down := map[string]bool{}
	for _, n := range w.nodes.Down() {
		down[n] = true
	}
	if len(down) == 0 {
		return
	}
	list := &corev1.PodList{}
	if err := w.pods.List(ctx, list, client.MatchingLabels{k8s.LabelManagedBy: k8s.ManagedBy}); err != nil {
		logf.FromContext(ctx).Info("listing pods on not-ready nodes", "error", err.Error())
		return
	}
	for i := range list.Items {
		p := &list.Items[i]
		if !down[p.Spec.NodeName] || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, ch := range []chan event.GenericEvent{w.runs, w.cases} {
			select {
			case ch <- event.GenericEvent{Object: p}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// casesOfPod maps a test pod to the TestCases it runs: its controller, or
// for a unit's pod, the tests it lists.
func casesOfPod(ctx context.Context, obj client.Object) []reconcile.Request {
	if ref := metav1.GetControllerOf(obj); ref != nil && ref.Kind == "TestCase" && ref.APIVersion == v1alpha1.GroupVersion.String() {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: ref.Name}}}
	}
	return casesOfUnitPod(ctx, obj)
}
