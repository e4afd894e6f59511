package operator

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/drive"
)

// A reconcile never waits on a log read. The first reconcile that wants a
// finished pod collected starts the read on the executor's read pool and
// goes on (creating the pods of other tests); the read's end wakes the
// object that asked, whose next reconcile takes the result and records it.
// The status updates stay in the reconcile, which alone writes the
// object's status.

// readWorkers bounds the log reads in flight, across runs, when Setup
// gives no executor.
const readWorkers = 16

// wakeBuffer is how many wake-ups of ended reads wait for their controller
// before a worker that ends a read waits too.
const wakeBuffer = 1024

// readTimeout bounds one log read: a read that hangs must free its worker.
const readTimeout = 5 * time.Minute

// readRetry is when a reconcile whose read the busy pool turned away asks
// again.
const readRetry = time.Second

// collected is what the read of one finished pod gave.
type collected struct {
	at  attempt.Attempt
	raw []byte
}

// readKey names one read: the pod, and the object whose reconcile wants it.
type readKey struct {
	owner types.NamespacedName
	pod   types.UID
}

// reads runs the log reads of one reconciler on an executor's read pool.
// Its zero value works, with a pool of its own.
type reads struct {
	once    sync.Once
	results *drive.Results[readKey, collected]
}

// setup gives the reads executor x (nil: a pool of readWorkers of their
// own) and wake, called with the object whose read ended (nil: no wake;
// the reconcile asks again after readRetry).
func (r *reads) setup(x *drive.Executor, wake func(types.NamespacedName)) {
	r.once.Do(func() {
		if x == nil {
			x = drive.New(1, readWorkers)
		}
		r.results = drive.NewResults[readKey, collected](x)
		if wake != nil {
			r.results.Done = func(k readKey) { wake(k.owner) }
		}
	})
}

// take returns what the read of pod gave, once ready. Until then it starts
// the read (unless it runs already) with collect and returns false and how
// long to wait before asking again: 0 when the read's end wakes owner.
func (r *reads) take(ctx context.Context, owner client.Object, pod *corev1.Pod, collect func(context.Context, *corev1.Pod) collected) (collected, bool, time.Duration) {
	r.setup(nil, nil)
	key := readKey{owner: client.ObjectKeyFromObject(owner), pod: pod.UID}
	pod = pod.DeepCopy()
	got, ok := r.results.Take(key, func() collected {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
		defer cancel()
		return collect(rctx, pod)
	})
	if ok {
		return got, true, 0
	}
	if !r.results.Running(key) || r.results.Done == nil {
		return collected{}, false, readRetry
	}
	return collected{}, false, 0
}

// forget drops the results of owner's reads that no reconcile took: the
// object is gone.
func (r *reads) forget(owner types.NamespacedName) {
	r.setup(nil, nil)
	r.results.ForgetIf(func(k readKey) bool { return k.owner == owner })
}
