package drive

import "sync"

// Results runs one read per key on an executor's read pool and keeps its
// result until the loop takes it. It serves a loop that is woken, not one
// that runs: a reconciler asks for a result at each pass; the first ask
// starts the read, and the read's end calls Done, which wakes the loop to
// ask again. Results are dropped when taken or forgotten, so they stay as
// many as the reads in flight plus those not yet taken.
type Results[K comparable, V any] struct {
	x *Executor
	// Done, when set, is called on the worker once the result of key is
	// ready.
	Done func(key K)

	mu      sync.Mutex
	running map[K]bool
	ready   map[K]V
}

// NewResults keeps the results of reads run on x.
func NewResults[K comparable, V any](x *Executor) *Results[K, V] {
	return &Results[K, V]{x: x, running: map[K]bool{}, ready: map[K]V{}}
}

// Take returns the result of key and forgets it when it is ready. Else it
// starts read for key unless it runs already (or the pool is busy: then
// the next ask starts it), and returns false at once.
func (r *Results[K, V]) Take(key K, read func() V) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.ready[key]; ok {
		delete(r.ready, key)
		return v, true
	}
	var zero V
	if r.running[key] {
		return zero, false
	}
	r.running[key] = r.x.Read(func() func() error {
		v := read()
		r.mu.Lock()
		delete(r.running, key)
		r.ready[key] = v
		r.mu.Unlock()
		if r.Done != nil {
			r.Done(key)
		}
		return nil
	})
	return zero, false
}

// Running reports whether the read of key is under way or its result not
// yet taken.
func (r *Results[K, V]) Running(key K) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ready := r.ready[key]
	return r.running[key] || ready
}

// ForgetIf drops the results not yet taken of the keys drop reports; a
// read under way still ends with a result, kept until taken or forgotten
// again.
func (r *Results[K, V]) ForgetIf(drop func(K) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.ready {
		if drop(k) {
			delete(r.ready, k)
		}
	}
}

// Busy reports whether any read is under way or any result not yet taken.
func (r *Results[K, V]) Busy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running) > 0 || len(r.ready) > 0
}

// Wait returns once every read under way has ended.
func (r *Results[K, V]) Wait() { r.x.Wait() }
