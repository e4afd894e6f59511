// Package drive is how a decision loop acts on the cluster without waiting
// on it, in direct and operator mode alike: an Executor runs API calls
// (creates, deletes) and log reads on bounded pools of their own and hands
// their completions back to the loop; Results keeps the outcome of one read
// per key for a loop that is woken rather than running (a reconciler);
// Pending remembers the pods created but not yet seen, so a decision taken
// before the watch catches up neither creates them again nor exceeds the
// parallelism.
package drive

import (
	"errors"
	"sync"
)

// Executor runs slow calls beside a decision loop. Calls (creates and
// deletes) and reads (log reads) have pools of their own, so slow log reads
// never hold up a create. A call never waits for a worker: with its pool
// busy it is turned away, and the loop decides it again later.
type Executor struct {
	calls, reads chan struct{}
	workers      sync.WaitGroup

	mu          sync.Mutex
	completions []func() error
	wake        chan struct{}
}

// New returns an executor with calls workers for API calls and reads
// workers for log reads; each is at least 1.
func New(calls, reads int) *Executor {
	return &Executor{
		calls: make(chan struct{}, max(calls, 1)),
		reads: make(chan struct{}, max(reads, 1)),
		wake:  make(chan struct{}, 1),
	}
}

// Call runs job on a worker of the calls pool and reports whether it went
// out; the completion job returns, unless nil, is run by Apply.
func (x *Executor) Call(job func() func() error) bool { return x.run(x.calls, job) }

// Read runs job on a worker of the reads pool, as Call does.
func (x *Executor) Read(job func() func() error) bool { return x.run(x.reads, job) }

func (x *Executor) run(pool chan struct{}, job func() func() error) bool {
	select {
	case pool <- struct{}{}:
	default:
		return false
	}
	x.workers.Go(func() {
		done := job()
		<-pool
		if done != nil {
			x.mu.Lock()
			x.completions = append(x.completions, done)
			x.mu.Unlock()
		}
		select {
		case x.wake <- struct{}{}:
		default:
		}
	})
	return true
}

// Woken receives after a job ended: the loop has something to apply, or a
// worker free.
func (x *Executor) Woken() <-chan struct{} { return x.wake }

// Apply runs the completions handed back so far, in the order their jobs
// ended, and joins their errors. Only the loop calls it.
func (x *Executor) Apply() error {
	x.mu.Lock()
	done := x.completions
	x.completions = nil
	x.mu.Unlock()
	var errs []error
	for _, f := range done {
		if err := f(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Wait returns once every job that went out has returned.
func (x *Executor) Wait() { x.workers.Wait() }
