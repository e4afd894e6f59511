package k8s

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Watcher keeps a local cache of the pods that match one label selector,
// fed by a single list+watch, and signals every change on a channel. Drivers
// read the cache instead of asking the API server per pod.
type Watcher struct {
	lister  listersv1.PodLister
	changed chan struct{}
	synced  cache.InformerSynced
	inf     cache.SharedIndexInformer
	wait    func()
}

// NewWatcher prepares a watch of the pods in namespace matching selector.
// Start it with Run.
func NewWatcher(client kubernetes.Interface, namespace, selector string) (*Watcher, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := factory.Core().V1().Pods()
	w := &Watcher{
		lister:  inf.Lister(),
		changed: make(chan struct{}, 1),
		synced:  inf.Informer().HasSynced,
		inf:     inf.Informer(),
		wait:    func() {},
	}
	if err := inf.Informer().SetTransform(dropManagedFields); err != nil {
		return nil, fmt.Errorf("watching pods: %w", err)
	}
	notify := func(any) { w.notify() }
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, obj any) { notify(obj) },
		DeleteFunc: notify,
	}); err != nil {
		return nil, fmt.Errorf("watching pods: %w", err)
	}
	return w, nil
}

// Start begins the watch and waits for the first list. The watch stops when
// ctx ends.
func (w *Watcher) Start(ctx context.Context) error {
	w.wait = runInformer(ctx, w.inf)
	if !cache.WaitForCacheSync(ctx.Done(), w.synced) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("pod watch did not sync")
	}
	return nil
}

// Shutdown waits for the watch's goroutines, which stop when the context
// given to Start ends.
func (w *Watcher) Shutdown() { w.wait() }

// Changed receives a value after any change; changes coalesce.
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

// Pods lists the cached pods.
func (w *Watcher) Pods() ([]*corev1.Pod, error) {
	return w.lister.List(labels.Everything())
}

func (w *Watcher) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// dropManagedFields keeps a watched object without its managedFields, which
// nothing here reads: at P=500 they were kilobytes a pod, written by the
// scheduler, the kubelet and the runner.
func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
