// Package runner drives one run in direct mode: it feeds the pods observed
// through one watch into plan.Next and carries out the actions (create,
// collect, delete) until every case is final. The outcome of an attempt comes
// from the API server; its results (per-test JUnit, output, artifacts) come
// from the collector's log and only refine that outcome.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/drive"
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
		timelines:  map[string]*attempt.Timeline{},
		seen:       map[string]*corev1.Pod{},
		vanished:   map[string]*corev1.Pod{},
		outcomes:   map[string]int{},
		lost:       map[string]plan.Outcome{},
		x:          drive.New(workers, workers),
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
	created   drive.Pending
	timelines map[string]*attempt.Timeline
	// seen holds the last state of each uncollected pod the watch showed;
	// vanished, the last state of those that disappeared before they were
	// collected (deleted by someone else, force-deleted with their node).
	// The runner deletes a pod only once collected, so it knows these were
	// taken away.
	seen, vanished map[string]*corev1.Pod
	// observations keeps the last observation of each watched pod.
	observations observations
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
	// the executor's workers and hand their results back as completions,
	// which only the loop applies. Log reads and creates and deletes have
	// pools of their own, so slow log reads never hold up a create.
	x *drive.Executor
}

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
		r.x.Wait()
		if cerr := r.x.Apply(); err == nil {
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
		if err := r.x.Apply(); err != nil {
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

// decisionGap is how long the loop lets events gather before it decides
// again. A decision costs the pods in flight, yet a large run that decided
// on each event alone would still decide thousands of times a minute: 5ms
// per 1000 cases, up to 50ms, nothing below 1000 cases.
func decisionGap(cases int) time.Duration {
	return min(time.Duration(cases/1000)*5*time.Millisecond, 50*time.Millisecond)
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
