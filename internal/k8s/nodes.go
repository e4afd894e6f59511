package k8s

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/k8s-testrun/k8s-testrun/internal/defaults"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// DefaultNodeLostAfter is how long a node's Ready condition must stay
// Unknown or False before its pods count as lost (see package defaults).
const DefaultNodeLostAfter = defaults.NodeLostAfter

// NodeDown is a node seen not ready.
type NodeDown struct {
	// Since is when the watch first saw the node not ready, by the local
	// clock: a node's own timestamps come from another clock.
	Since time.Time
	// Status is the Ready condition's status (Unknown, False), or Deleted
	// for a node that was removed.
	Status string
	// Reason is the Ready condition's reason, bounded.
	Reason string
}

// NodeWatcher follows the Ready condition of the cluster's nodes through
// one watch. It keeps, for each node, its name and Ready condition only, so
// its memory grows with the number of nodes, not with their images or
// labels.
type NodeWatcher struct {
	client  kubernetes.Interface
	inf     cache.SharedIndexInformer
	wait    func()
	now     func() time.Time
	changed chan struct{}
	stop    context.CancelFunc

	mu   sync.Mutex
	down map[string]NodeDown
}

// NewNodeWatcher prepares a watch of the cluster's nodes. Start it with
// Start. now is the clock (time.Now when nil).
func NewNodeWatcher(client kubernetes.Interface, now func() time.Time) (*NodeWatcher, error) {
	if now == nil {
		now = time.Now
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	inf := factory.Core().V1().Nodes().Informer()
	w := &NodeWatcher{client: client, inf: inf, wait: func() {}, now: now, changed: make(chan struct{}, 1), down: map[string]NodeDown{}}
	if err := inf.SetTransform(slimNode); err != nil {
		return nil, fmt.Errorf("watching nodes: %w", err)
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.update(obj) },
		UpdateFunc: func(_, obj any) { w.update(obj) },
		DeleteFunc: w.deleted,
	}); err != nil {
		return nil, fmt.Errorf("watching nodes: %w", err)
	}
	return w, nil
}

// Start checks that nodes may be listed, then begins the watch, which
// stops when ctx ends. It does not wait for the first list: a run goes on
// while the nodes arrive. An error (typically a Role without list and
// watch on nodes) means node loss goes undetected by the watch.
func (w *NodeWatcher) Start(ctx context.Context) error {
	if _, err := w.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	ctx, w.stop = context.WithCancel(ctx)
	w.wait = runInformer(ctx, w.inf)
	return nil
}

// Shutdown stops the watch and waits for its goroutines.
func (w *NodeWatcher) Shutdown() {
	if w.stop != nil {
		w.stop()
	}
	w.wait()
}

// Changed receives a value after a node turns ready or not ready; changes
// coalesce.
func (w *NodeWatcher) Changed() <-chan struct{} { return w.changed }

// Lost says whether node has been not ready for at least after, as of
// now, and since when.
func (w *NodeWatcher) Lost(node string, now time.Time, after time.Duration) (NodeDown, bool) {
	w.mu.Lock()
	d, ok := w.down[node]
	w.mu.Unlock()
	if !ok || now.Sub(d.Since) < after {
		return NodeDown{}, false
	}
	return d, true
}

func (w *NodeWatcher) update(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	status, reason := readiness(n)
	w.mu.Lock()
	_, wasDown := w.down[n.Name]
	switch {
	case status == corev1.ConditionTrue:
		delete(w.down, n.Name)
	case !wasDown:
		w.down[n.Name] = NodeDown{Since: w.now(), Status: string(status), Reason: reason}
	default:
		// Unknown to False or back: the same outage, from its start.
		d := w.down[n.Name]
		d.Status, d.Reason = string(status), reason
		w.down[n.Name] = d
	}
	w.mu.Unlock()
	if wasDown != (status != corev1.ConditionTrue) {
		w.notify()
	}
}

func (w *NodeWatcher) deleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	w.mu.Lock()
	if _, down := w.down[n.Name]; !down {
		w.down[n.Name] = NodeDown{Since: w.now(), Status: "Deleted"}
	}
	w.mu.Unlock()
	w.notify()
}

func (w *NodeWatcher) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// readiness is a node's Ready status and reason; a node that reports no
// Ready condition yet counts as ready (a kubelet registering).
func readiness(n *corev1.Node) (corev1.ConditionStatus, string) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status, bound(c.Reason, 128)
		}
	}
	return corev1.ConditionTrue, ""
}

func bound(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// slimNode keeps of a node what NodeWatcher reads: its name and Ready
// condition.
func slimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, ResourceVersion: n.ResourceVersion}}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			slim.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status, Reason: bound(c.Reason, 128)}}
		}
	}
	return slim, nil
}

// NodeLoss is the node-loss rule of a run: a pod whose node has been not
// ready for After is lost with it. Direct mode and the operator share it.
type NodeLoss struct {
	Nodes *NodeWatcher
	After time.Duration
}

// Outcome is the NodeLost outcome of pod, when its node has been lost for
// l.After as of now. A nil NodeLoss, or one without a watch, loses nothing.
func (l *NodeLoss) Outcome(pod *corev1.Pod, now time.Time) (plan.Outcome, bool) {
	if l == nil || l.Nodes == nil || pod.Spec.NodeName == "" {
		return plan.Outcome{}, false
	}
	d, ok := l.Nodes.Lost(pod.Spec.NodeName, now, cmp.Or(l.After, DefaultNodeLostAfter))
	if !ok {
		return plan.Outcome{}, false
	}
	return NodeLostOutcome(pod.Spec.NodeName, d, now), true
}

// Down lists the nodes not ready now, however long.
func (w *NodeWatcher) Down() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.down))
	for n := range w.down {
		out = append(out, n)
	}
	return out
}

// NodeLostOutcome is the outcome of an attempt whose pod ran on a lost
// node: the infrastructure's, so the test runs again elsewhere.
func NodeLostOutcome(node string, d NodeDown, now time.Time) plan.Outcome {
	state := "Ready=" + d.Status
	if d.Status == "Deleted" {
		state = "deleted"
	} else if d.Reason != "" {
		state += " (" + d.Reason + ")"
	}
	return infra(plan.ReasonNodeLost, fmt.Sprintf("node %s has been %s for %s: the pod was ended and its tests run again", node, state, now.Sub(d.Since).Round(time.Second)))
}
