// Package runner drives one run in direct mode: it feeds the pods observed
// through one watch into plan.Next and carries out the actions (create,
// collect, delete) until every case is final. The outcome of an attempt comes
// from the API server; its results (per-test JUnit, output, artifacts) come
// from the collector's log and only refine that outcome.
package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// Run carries out the run. On cancellation it returns what was collected so
// far together with ctx's error; it never deletes the run's pods itself: the
// caller does, under a context of its own, whatever happened. Run returns
// only once every API call it started has returned, so that a cleanup after
// it finds every pod it created.
func Run(ctx context.Context, o Options) ([]report.CaseResult, error) {
	if o.Client == nil || o.Namespace == "" || o.RunID == "" || o.Image == "" {
		return nil, errors.New("runner: client, namespace, run id and image are required")
	}
	if o.PendingTimeout == 0 {
		o.PendingTimeout = DefaultPendingTimeout
	}
	if o.Resync == 0 {
		o.Resync = DefaultResync
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NodeLostAfter == 0 {
		o.NodeLostAfter = k8s.DefaultNodeLostAfter
	}
	workers := o.Workers
	if workers <= 0 {
		workers = min(max(4, o.Parallelism), maxWorkers)
	}
	r := &run{
		o:          o,
		cases:      make(map[string]plan.Case, len(o.Cases)),
		collected:  map[string]*record{},
		settling:   map[string]bool{},
		collecting: map[string]bool{},
		deleting:   map[string]bool{},
		created:    map[string]createdPod{},
		timelines:  map[string]*attempt.Timeline{},
		seen:       map[string]*corev1.Pod{},
		vanished:   map[string]*corev1.Pod{},
		outcomes:   map[string]int{},
		lost:       map[string]plan.Outcome{},
		reads:      make(chan struct{}, workers),
		calls:      make(chan struct{}, workers),
		wake:       make(chan struct{}, 1),
	}
	for _, c := range o.Cases {
		r.cases[c.ID] = c
	}
	return r.loop(ctx)
}

// maxWorkers bounds the API calls (creates, log reads, deletes) in flight.
const maxWorkers = 32

type record struct {
	pod plan.Pod
	// attempts are the pod's attempts: one for each case it settled, in
	// the pod's order. A slice, not a map: a run keeps one record per pod.
	attempts []caseAttempt
}

type caseAttempt struct {
	id string
	at attempt.Attempt
}

type run struct {
	o     Options
	cases map[string]plan.Case
	// running holds the pods OnPod heard of as running and not yet ended.
	running map[string]bool
	// collected holds the pods whose results were read, by name.
	collected map[string]*record
	// settling holds the collected pods the planner is still shown: until
	// the watch shows them gone, and once after.
	settling map[string]bool
	// collecting and deleting hold the pods with such a call in flight.
	collecting, deleting map[string]bool
	// created holds pods created but not yet seen through the watch, so a
	// re-evaluation before the watch catches up does not create more.
	created   map[string]createdPod
	timelines map[string]*attempt.Timeline
	// seen holds the last state of each uncollected pod the watch showed;
	// vanished, the last state of those that disappeared before they were
	// collected (deleted by someone else, force-deleted with their node).
	// The runner deletes a pod only once collected, so it knows these were
	// taken away.
	seen, vanished map[string]*corev1.Pod
	// outcomes counts the collected attempts of each case, which numbers
	// the next.
	outcomes map[string]int
	planner  *plan.Planner
	last     plan.Decision
	// nodes follows the nodes' readiness; nil when they cannot be watched.
	nodes *k8s.NodeWatcher
	// lost holds the outcome of each uncollected pod ended with its node.
	lost map[string]plan.Outcome

	// The decision loop never waits on the API server: its calls run on
	// workers and hand their results back as completions, which only the
	// loop applies. Log reads (reads) and creates and deletes (calls) have
	// pools of their own, so slow log reads never hold up a create.
	reads, calls chan struct{}
	workers      sync.WaitGroup
	mu           sync.Mutex
	completions  []func() error
	wake         chan struct{}
}

type createdPod struct {
	pod plan.Pod
	at  time.Time
}

// createdGrace is how long a created pod that the watch never shows counts
// as running; past it, the pod is taken as lost and its attempt is created
// again (an existing pod of that name makes that a no-op).
const createdGrace = time.Minute

func (r *run) loop(ctx context.Context) ([]report.CaseResult, error) {
	w, err := k8s.NewWatcher(r.o.Client, r.o.Namespace, k8s.RunSelector(r.o.RunID)+","+k8s.LabelRole+"=test")
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer func() { stop(); w.Shutdown() }()
	if err := w.Start(wctx); err != nil {
		return nil, fmt.Errorf("watching pods of run %s: %w", r.o.RunID, err)
	}
	nodeChanged := r.watchNodes(wctx)
	if r.nodes != nil {
		defer r.nodes.Shutdown()
	}
	// Whatever ends the loop, the calls in flight finish first and their
	// results are kept.
	finish := func(err error) ([]report.CaseResult, error) {
		r.workers.Wait()
		if cerr := r.apply(); err == nil {
			err = cerr
		}
		return r.results(), err
	}
	spec := plan.Spec{Cases: r.o.Cases, Units: r.o.Units, Parallelism: r.o.Parallelism, MaxAttempts: r.o.MaxAttempts, MaxFailures: r.o.MaxFailures, Excused: r.o.Excused, InfraRetries: r.o.InfraRetries, FlakyAttempts: r.o.FlakyAttempts}
	planner := plan.NewPlanner(spec)
	r.planner = planner
	tick := time.NewTicker(r.o.Resync)
	defer tick.Stop()
	gap := decisionGap(len(spec.Cases))
	for {
		if err := r.apply(); err != nil {
			return finish(err)
		}
		pods, err := w.Pods()
		if err != nil {
			return finish(err)
		}
		live, observed := r.observeAll(pods)
		if r.o.evaluated != nil {
			r.o.evaluated(observed)
		}
		r.last = planner.Next(observed)
		for _, a := range r.last.Actions {
			if err := r.act(ctx, a, live); err != nil {
				return finish(err)
			}
		}
		if r.last.Done && r.deletesDispatched() {
			return finish(nil)
		}
		if r.await(ctx, w, nodeChanged, tick.C, gap) {
			return finish(ctx.Err())
		}
	}
}

// observeAll turns the pods the watch holds into the planner's view: each
// pod as observed, the pods gone from the watch, created pods not yet seen
// and collected pods still settling. live maps the watched pods by name.
func (r *run) observeAll(pods []*corev1.Pod) (live map[string]*corev1.Pod, observed []plan.Pod) {
	live = map[string]*corev1.Pod{}
	observed = make([]plan.Pod, 0, len(pods)+len(r.settling))
	now := time.Now()
	for _, p := range pods {
		live[p.Name] = p
		if rec, ok := r.collected[p.Name]; ok {
			rec.pod.Deleting = rec.pod.Deleting || p.DeletionTimestamp != nil
			continue
		}
		r.seen[p.Name] = p
		obs := r.observe(p, now)
		obs.Deleting = obs.Deleting || r.deleting[p.Name]
		if obs.Done {
			if tl := r.timeline(p.Name); tl.Seen.IsZero() {
				tl.Seen = now
			}
		}
		observed = append(observed, obs)
		r.announce(p, obs)
	}
	vanished := r.gone(live, now)
	for i := range vanished {
		vanished[i].Gone = true
	}
	observed = append(observed, vanished...)
	r.announceGone(live)
	for name, c := range r.created {
		switch {
		case live[name] != nil:
			delete(r.created, name)
		case now.Sub(c.at) > createdGrace:
			delete(r.created, name)
		default:
			observed = append(observed, c.pod)
		}
	}
	for name := range r.settling {
		rec := r.collected[name]
		if _, ok := live[name]; !ok {
			rec.pod.Deleting = true
			rec.pod.Gone = true
			if rec.pod.Done {
				// Settled: the planner keeps its outcomes from now on.
				delete(r.settling, name)
			}
		}
		observed = append(observed, rec.pod)
	}
	return live, observed
}

// await waits for something to decide on: a pod or node change, a wake-up
// or the resync tick, then lets events gather for gap. It reports whether
// ctx ended.
func (r *run) await(ctx context.Context, w *k8s.Watcher, nodeChanged <-chan struct{}, tick <-chan time.Time, gap time.Duration) bool {
	select {
	case <-ctx.Done():
		return true
	case <-w.Changed():
	case <-nodeChanged:
	case <-r.wake:
	case <-tick:
	}
	if gap > 0 {
		// Events that arrive meanwhile are decided on together.
		select {
		case <-ctx.Done():
		case <-time.After(gap):
		}
	}
	return false
}

// decisionGap is how long the loop lets events gather before it decides
// again. A decision costs the pods in flight, yet a large run that decided
// on each event alone would still decide thousands of times a minute: 5ms
// per 1000 cases, up to 50ms, nothing below 1000 cases.
func decisionGap(cases int) time.Duration {
	return min(time.Duration(cases/1000)*5*time.Millisecond, 50*time.Millisecond)
}

// goAsync runs call on a worker of pool; the completion it returns is
// applied by the loop. It never waits: with every worker of the pool busy it
// returns false, and the action is decided again at the next evaluation,
// which the end of any call triggers.
func (r *run) goAsync(pool chan struct{}, call func() func() error) bool {
	select {
	case pool <- struct{}{}:
	default:
		return false
	}
	r.workers.Go(func() {
		done := call()
		<-pool
		r.mu.Lock()
		r.completions = append(r.completions, done)
		r.mu.Unlock()
		select {
		case r.wake <- struct{}{}:
		default:
		}
	})
	return true
}

// apply runs the completions handed back by the workers, in order.
func (r *run) apply() error {
	r.mu.Lock()
	done := r.completions
	r.completions = nil
	r.mu.Unlock()
	var errs []error
	for _, f := range done {
		if err := f(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *run) timeline(pod string) *attempt.Timeline {
	tl := r.timelines[pod]
	if tl == nil {
		tl = &attempt.Timeline{}
		r.timelines[pod] = tl
	}
	return tl
}

// act carries out one action of the planner: creates, collections and
// deletes go to the worker pools, and their completions come back to the
// loop.
func (r *run) act(ctx context.Context, a plan.Action, live map[string]*corev1.Pod) error {
	switch a.Kind {
	case plan.Create:
		return r.actCreate(ctx, a)
	case plan.Collect:
		r.actCollect(ctx, a, live)
	case plan.Delete:
		r.actDelete(ctx, a)
	}
	return nil
}

// actCreate builds the pod of a create action and creates it on a worker,
// unless a pod of that name was created and is not yet seen.
func (r *run) actCreate(ctx context.Context, a plan.Action) error {
	opts := k8s.TestPodOptions{
		Namespace:     r.o.Namespace,
		RunID:         r.o.RunID,
		Case:          a.Case,
		Attempt:       a.Attempt,
		Image:         cmp.Or(a.Case.Image, r.o.Image),
		PytestArgs:    r.o.PytestArgs,
		Timeout:       r.timeout(a.Case),
		NativeSidecar: r.o.NativeSidecar,
		ResultLimit:   r.o.ResultLimit,
		Template:      r.o.Template,

		FaketimeLibrary: r.o.FaketimeLibrary,
		Coverage:        r.o.CoverageDir != "",
	}
	opts.ServiceTimeout = r.o.PendingTimeout
	if a.Unit != a.Case.ID || len(a.Cases) > 1 {
		opts.Unit, opts.Cases = a.Unit, a.Cases
	}
	pod, err := k8s.TestPod(opts)
	if err != nil {
		return err
	}
	obs := plan.Pod{Name: pod.Name, CaseID: pod.Labels[k8s.LabelCase], Attempt: a.Attempt}
	if opts.Unit != "" {
		obs.Cases = caseIDs(a.Cases)
	}
	if _, ok := r.created[pod.Name]; ok {
		return nil
	}
	r.o.Logger.Debug("creating pod", "pod", pod.Name, "tests", len(a.Cases), "first", a.Case.TestID, "attempt", a.Attempt)
	r.created[pod.Name] = createdPod{pod: obs, at: time.Now()}
	if !r.goAsync(r.calls, func() func() error {
		err := k8s.CreatePod(ctx, r.o.Client, pod)
		at := time.Now()
		return func() error {
			if err != nil {
				delete(r.created, pod.Name)
				return err
			}
			r.timeline(pod.Name).Created = at
			return nil
		}
	}) {
		delete(r.created, pod.Name)
	}
	return nil
}

// actCollect collects the pod of a collect action, live or vanished, on a
// read worker, unless its collection is under way.
func (r *run) actCollect(ctx context.Context, a plan.Action, live map[string]*corev1.Pod) {
	p := live[a.Pod]
	if p == nil {
		p = r.vanished[a.Pod]
	}
	if p == nil || r.collecting[a.Pod] {
		return
	}
	var lost *plan.Outcome
	if o, ok := r.lost[a.Pod]; ok {
		lost = &o
	}
	r.collecting[a.Pod] = r.goAsync(r.reads, func() func() error {
		rec := r.collect(ctx, p, lost)
		return func() error {
			delete(r.collecting, a.Pod)
			r.finishCollect(p, rec)
			return nil
		}
	})
}

// actDelete deletes the pod of a delete action on a worker, unless its
// delete is under way.
func (r *run) actDelete(ctx context.Context, a plan.Action) {
	if r.deleting[a.Pod] {
		return
	}
	if !r.goAsync(r.calls, func() func() error {
		err := k8s.DeletePod(ctx, r.o.Client, r.o.Namespace, a.Pod, ptr.To(int64(0)))
		at := time.Now()
		return func() error {
			if err != nil {
				// Asked again at the next evaluation; the run's
				// cleanup deletes by label whatever stays.
				r.o.Logger.Debug("deleting pod failed", "pod", a.Pod, "err", err)
				delete(r.deleting, a.Pod)
				if rec, ok := r.collected[a.Pod]; ok {
					rec.pod.Deleting = false
				}
				return nil
			}
			r.timeline(a.Pod).Deleted = at
			return nil
		}
	}) {
		return
	}
	r.deleting[a.Pod] = true
	if rec, ok := r.collected[a.Pod]; ok {
		rec.pod.Deleting = true
	}
}

// timeout is the per-test timeout of c's lane; a unit's cases share one.
func (r *run) timeout(c plan.Case) time.Duration {
	if c.Lane == plan.LaneSlow && r.o.SlowTimeout > 0 {
		return r.o.SlowTimeout
	}
	return r.o.Timeout
}

func caseIDs(cases []plan.Case) []string {
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = c.ID
	}
	return ids
}

// observeOptions ends an attempt at the test's exit when the collector is a
// native sidecar: it ships its block as soon as the shim's done marker
// appears and then only waits to be stopped, so waiting for the kubelet to
// stop it (seconds) would hold the parallelism slot for nothing. The pod is
// deleted once collected, which stops the collector.
func (r *run) observeOptions() k8s.ObserveOptions {
	return k8s.ObserveOptions{PendingTimeout: r.o.PendingTimeout, TestExitEnds: r.o.NativeSidecar}
}
