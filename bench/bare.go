package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// BareCreator is B8's baseline: the least client-go code that keeps
// InFlight pods going. It creates pod i as soon as fewer than InFlight of
// its pods are between their create and their end, learns from one
// informer that a pod has ended (Succeeded or Failed), frees its slot and
// deletes it. No sidecar, no log read, no retry, no report: what is left is
// the API server's and the client's rate limit's own pace.
type BareCreator struct {
	Client    kubernetes.Interface
	Namespace string
	// Selector picks the creator's pods, for its informer.
	Selector string
	// N pods in all, InFlight at most at once.
	N, InFlight int
	// Pod builds pod i; its labels must match Selector.
	Pod func(i int) *corev1.Pod
	// Stall, if set, ends the run with an error when no pod has ended for
	// that long while some are in flight.
	Stall time.Duration
	// AfterEnd, if set, is called with each ended pod before its delete,
	// on the delete's goroutine; its result is not looked at.
	AfterEnd func(ctx context.Context, p *corev1.Pod)
}

// BareResult is what a BareCreator run did.
type BareResult struct {
	// Created and Ended count pods; Failed, those that ended Failed.
	Created, Ended, Failed int
	// MaxInFlight is the most pods created and not yet seen ended at once.
	MaxInFlight int
	// Wall runs from the informer's start to the last delete's answer.
	Wall time.Duration
}

// rate is n per second of d; 0 for no time.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Run creates the N pods and waits until every one has ended and been
// deleted. It stops at the first failed create or delete.
func (b BareCreator) Run(ctx context.Context) (BareResult, error) {
	if b.N < 1 || b.InFlight < 1 || b.Pod == nil {
		return BareResult{}, fmt.Errorf("bare creator: N %d, InFlight %d: give both 1 or more, and Pod", b.N, b.InFlight)
	}
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ended := make(chan *corev1.Pod, b.N)
	var mu sync.Mutex
	seen := map[string]bool{}
	end := func(obj any, gone bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		p, ok := obj.(*corev1.Pod)
		if !ok || (!gone && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[p.Name] {
			seen[p.Name] = true
			ended <- p
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(b.Client, 0,
		informers.WithNamespace(b.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = b.Selector }))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { end(obj, false) },
		UpdateFunc: func(_, obj any) { end(obj, false) },
		DeleteFunc: func(obj any) { end(obj, true) },
	}); err != nil {
		return BareResult{}, err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	defer cancel(nil)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return BareResult{}, errors.Join(errors.New("bare creator: the pod informer did not sync"), context.Cause(ctx))
	}

	var res BareResult
	var inFlight, maxInFlight, created atomic.Int64
	slots := make(chan struct{}, b.InFlight)
	var work sync.WaitGroup
	go func() {
		for i := 0; i < b.N; i++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			pod := b.Pod(i)
			n := inFlight.Add(1)
			for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
			}
			work.Add(1)
			go func() {
				defer work.Done()
				if _, err := b.Client.CoreV1().Pods(b.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					cancel(fmt.Errorf("creating pod %s: %w", pod.Name, err))
					return
				}
				created.Add(1)
			}()
		}
	}()
	var stall <-chan time.Time
	for res.Ended < b.N {
		if b.Stall > 0 {
			stall = time.After(b.Stall)
		}
		var p *corev1.Pod
		select {
		case p = <-ended:
		case <-stall:
			cancel(fmt.Errorf("no pod ended for %s, %d of %d ended, %d in flight", b.Stall, res.Ended, b.N, inFlight.Load()))
			continue
		case <-ctx.Done():
			work.Wait()
			res.Created, res.MaxInFlight, res.Wall = int(created.Load()), int(maxInFlight.Load()), time.Since(start)
			return res, context.Cause(ctx)
		}
		res.Ended++
		if p.Status.Phase == corev1.PodFailed {
			res.Failed++
		}
		inFlight.Add(-1)
		<-slots
		work.Add(1)
		go func() {
			defer work.Done()
			if b.AfterEnd != nil {
				b.AfterEnd(ctx, p)
			}
			err := b.Client.CoreV1().Pods(b.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
			if err != nil && !apierrors.IsNotFound(err) {
				cancel(fmt.Errorf("deleting pod %s: %w", p.Name, err))
			}
		}()
	}
	work.Wait()
	res.Created, res.MaxInFlight, res.Wall = int(created.Load()), int(maxInFlight.Load()), time.Since(start)
	return res, context.Cause(ctx)
}
