package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// annotationNudge is what the nudger changes on a pod kwok left behind.
const annotationNudge = "k8s-testrun.io/bench-nudge"

// kwokNudger gives kwok another event for the pods it left behind. kwok
// plays a pod's next stage only on an event of that pod, and under load it
// drops some (a pod bound to a node whose lease its cache does not yet show
// held is skipped for good): such a pod would stay Pending, or Running,
// for ever. Every Every, each pod of the namespace that is bound to a node,
// not ended, not being deleted and unchanged for After gets an annotation
// patched, which kwok sees as a change. The count tells how many pods kwok
// missed; the same nudger runs under every arm of a benchmark.
type kwokNudger struct {
	Client    kubernetes.Interface
	Namespace string
	After     time.Duration
	Every     time.Duration

	// nudged counts the nudges of Pending and of Running pods.
	nudged [2]atomic.Int64
	stop   context.CancelFunc
	done   sync.WaitGroup
}

// Start watches the namespace's pods until Stop.
func (n *kwokNudger) Start(ctx context.Context) error {
	ctx, n.stop = context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactoryWithOptions(n.Client, 0, informers.WithNamespace(n.Namespace))
	inf := factory.Core().V1().Pods().Informer()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		n.stop()
		factory.Shutdown()
		return fmt.Errorf("the nudger's pod informer did not sync")
	}
	n.done.Add(1)
	go func() {
		defer n.done.Done()
		defer factory.Shutdown()
		tick := time.NewTicker(n.Every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				for _, obj := range inf.GetStore().List() {
					if p, ok := obj.(*corev1.Pod); ok && stuck(p, now, n.After) {
						n.nudge(ctx, p)
					}
				}
			}
		}
	}()
	return nil
}

func (n *kwokNudger) nudge(ctx context.Context, p *corev1.Pod) {
	count, _ := strconv.Atoi(p.Annotations[annotationNudge])
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, annotationNudge, strconv.Itoa(count+1))
	if _, err := n.Client.CoreV1().Pods(n.Namespace).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err == nil {
		i := 0
		if p.Status.Phase == corev1.PodRunning {
			i = 1
		}
		n.nudged[i].Add(1)
	}
}

// Take returns the nudges of Pending and of Running pods since the last
// Take.
func (n *kwokNudger) Take() (pending, running int64) {
	return n.nudged[0].Swap(0), n.nudged[1].Swap(0)
}

// Stop ends the nudger.
func (n *kwokNudger) Stop() {
	n.stop()
	n.done.Wait()
}

// stuck says a pod is bound to a node, has not ended, is not being
// deleted, and nothing about it has changed for after: no condition, no
// container state and no nudge newer than that.
func stuck(p *corev1.Pod, now time.Time, after time.Duration) bool {
	if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	last := p.CreationTimestamp.Time
	for _, c := range p.Status.Conditions {
		last = later(last, c.LastTransitionTime.Time)
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if r := cs.State.Running; r != nil {
			last = later(last, r.StartedAt.Time)
		}
	}
	for _, f := range p.ManagedFields {
		if f.Time != nil {
			last = later(last, f.Time.Time)
		}
	}
	return now.Sub(last) > after
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
