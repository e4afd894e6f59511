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
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// Defaults for Options.
const (
	DefaultPendingTimeout = 2 * time.Minute
	DefaultResync         = time.Second
	// logLimit bounds how much of a collector log is read: the block is
	// capped by the collector, this only guards against a runaway log.
	logLimit = 64 << 20
)

// Options configures a run. Client, Namespace, RunID, Image and Cases are
// required.
type Options struct {
	Client    kubernetes.Interface
	Namespace string
	RunID     string
	Image     string
	Cases     []plan.Case

	// Parallelism caps concurrent pods; default 1.
	Parallelism int
	// MaxAttempts is 1 + retries; default 1.
	MaxAttempts int
	// MaxFailures stops the run after this many tests failed or errored
	// (see plan.Spec); zero means no limit.
	MaxFailures int
	// Excused are the IDs of the cases whose failure a quarantine
	// excuses: they do not count towards MaxFailures (see plan.Spec).
	Excused map[string]bool
	// InfraRetries is how often a test whose pod the infrastructure took
	// away (evicted, preempted, deleted by someone else, lost with its
	// node) runs again, apart from MaxAttempts; default 0.
	InfraRetries int
	// Timeout is each attempt's activeDeadlineSeconds; zero means none.
	Timeout time.Duration
	// PendingTimeout ends an attempt stuck unschedulable or unable to pull.
	PendingTimeout time.Duration
	NativeSidecar  bool
	Template       *corev1.PodTemplateSpec
	PytestArgs     []string
	ResultLimit    int
	// SlowTimeout replaces Timeout for the cases of the slow lane; zero
	// means Timeout.
	SlowTimeout time.Duration
	// FlakyAttempts is how often a case of the flaky lane runs at most,
	// when above MaxAttempts.
	FlakyAttempts int
	// FaketimeLibrary is the libfaketime of the image, preloaded in the
	// pods of cases with a Faketime; empty means faketime.DebianLibrary.
	FaketimeLibrary string
	// Resync re-evaluates the cache this often, for decisions that depend
	// on time alone; it reads the cache, not the API server.
	Resync time.Duration
	// Units group the cases into pods (see plan.Spec); nil runs one pod
	// per case.
	Units []plan.Unit
	// Workers bounds the API calls in flight (pod creates, log reads,
	// deletes); zero means the parallelism, at least 4 and at most 32.
	Workers int
	Logger  *slog.Logger
	// OnAttempt, if set, is called after each attempt is collected, on the
	// run's goroutine.
	OnAttempt func(plan.Case, Attempt)
	// OnPod, if set, hears when a pod's test container is first seen
	// running and when the pod is first seen done or gone, on the loop's
	// goroutine.
	OnPod func(PodEvent)
	// SpillDir, when set, receives the artifacts of every attempt as it is
	// collected, so that they wait for the report on disk, not in memory.
	SpillDir string
	// CoverageDir, when set, runs pytest under coverage.py and receives
	// every attempt's data files, kept on disk rather than in memory.
	CoverageDir string

	// evaluated, if set, hears the pods of each evaluation (tests).
	evaluated func([]plan.Pod)
	// clock paces the wait for a running collector's block; nil means the
	// real clock (tests).
	clock clock.Clock
}

// Attempt is one collected attempt of a case.
type Attempt struct {
	Number  int
	Pod     string
	Node    string
	Outcome plan.Outcome
	// Started and Finished are the test's run, when it ran: the test
	// container's, or in a unit's pod, the test's own.
	Started, Finished time.Time
	Results           Results
	// ResultErr says why no results could be read; the outcome stands.
	ResultErr error
	// Timeline is the pod's; in a unit's pod, every case shares it.
	Timeline Timeline
}

// CaseResult is the standing of one case at the end of the run.
type CaseResult struct {
	Case     plan.Case
	Status   plan.Status
	Flaky    bool
	Final    bool
	Attempts []Attempt
	// Stopped marks a case the run stopped (MaxFailures) before it had a
	// verdict.
	Stopped bool
}

// Run carries out the run. On cancellation it returns what was collected so
// far together with ctx's error; it never deletes the run's pods itself: the
// caller does, under a context of its own, whatever happened. Run returns
// only once every API call it started has returned, so that a cleanup after
// it finds every pod it created.
func Run(ctx context.Context, o Options) ([]CaseResult, error) {
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
		timelines:  map[string]*Timeline{},
		seen:       map[string]*corev1.Pod{},
		vanished:   map[string]*corev1.Pod{},
		outcomes:   map[string]int{},
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
	at Attempt
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
	timelines map[string]*Timeline
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

func (r *run) loop(ctx context.Context) ([]CaseResult, error) {
	w, err := k8s.NewWatcher(r.o.Client, r.o.Namespace, k8s.RunSelector(r.o.RunID)+","+k8s.LabelRole+"=test")
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer func() { stop(); w.Shutdown() }()
	if err := w.Start(wctx); err != nil {
		return nil, fmt.Errorf("watching pods of run %s: %w", r.o.RunID, err)
	}
	// Whatever ends the loop, the calls in flight finish first and their
	// results are kept.
	finish := func(err error) ([]CaseResult, error) {
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
		live := map[string]*corev1.Pod{}
		observed := make([]plan.Pod, 0, len(pods)+len(r.settling))
		now := time.Now()
		for _, p := range pods {
			live[p.Name] = p
			if rec, ok := r.collected[p.Name]; ok {
				rec.pod.Deleting = rec.pod.Deleting || p.DeletionTimestamp != nil
				continue
			}
			r.seen[p.Name] = p
			obs := k8s.Observe(p, now, r.observeOptions())
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
		select {
		case <-ctx.Done():
			return finish(ctx.Err())
		case <-w.Changed():
		case <-r.wake:
		case <-tick.C:
		}
		if gap > 0 {
			// Events that arrive meanwhile are decided on together.
			select {
			case <-ctx.Done():
			case <-time.After(gap):
			}
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

func (r *run) timeline(pod string) *Timeline {
	tl := r.timelines[pod]
	if tl == nil {
		tl = &Timeline{}
		r.timelines[pod] = tl
	}
	return tl
}

func (r *run) act(ctx context.Context, a plan.Action, live map[string]*corev1.Pod) error {
	switch a.Kind {
	case plan.Create:
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
	case plan.Collect:
		p := live[a.Pod]
		if p == nil {
			p = r.vanished[a.Pod]
		}
		if p == nil || r.collecting[a.Pod] {
			return nil
		}
		r.collecting[a.Pod] = r.goAsync(r.reads, func() func() error {
			rec := r.collect(ctx, p)
			return func() error {
				delete(r.collecting, a.Pod)
				r.finishCollect(p, rec)
				return nil
			}
		})
	case plan.Delete:
		if r.deleting[a.Pod] {
			return nil
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
			return nil
		}
		r.deleting[a.Pod] = true
		if rec, ok := r.collected[a.Pod]; ok {
			rec.pod.Deleting = true
		}
	}
	return nil
}

// gone observes the pods that disappeared before they were collected, as
// their last state deleted now: a test that had not ended on its own was
// taken away with its pod, and its attempt is collected (without results)
// like any other.
func (r *run) gone(live map[string]*corev1.Pod, now time.Time) []plan.Pod {
	for name, last := range r.seen {
		if live[name] != nil {
			continue
		}
		delete(r.seen, name)
		if _, ok := r.collected[name]; ok {
			continue
		}
		p := last.DeepCopy()
		if p.DeletionTimestamp == nil {
			p.DeletionTimestamp = &metav1.Time{Time: now}
			p.DeletionGracePeriodSeconds = ptr.To(int64(0))
		}
		r.vanished[name] = p
		r.o.Logger.Debug("pod disappeared before it was collected", "pod", name)
	}
	var out []plan.Pod
	for name, p := range r.vanished {
		if _, ok := r.collected[name]; ok {
			delete(r.vanished, name)
			continue
		}
		obs := k8s.Observe(p, now, r.observeOptions())
		obs.Deleting = true
		out = append(out, obs)
	}
	return out
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

// collected is what a worker read of one finished pod.
type collectedPod struct {
	at      Attempt
	unit    bool
	results map[string]Attempt
	at0     time.Time
}

// collect reads a finished pod's results, on a worker.
func (r *run) collect(ctx context.Context, p *corev1.Pod) collectedPod {
	opts := r.observeOptions()
	at, _ := collectAttempt(ctx, r.o.clock, r.o.Client, p, 0, opts)
	at.ResultErr = keepError(at.ResultErr)
	if r.o.CoverageDir != "" {
		if err := SaveCoverage(r.o.CoverageDir, p.Name, at.Results.Coverage); err != nil {
			r.o.Logger.Warn("keeping the coverage data", "pod", p.Name, "error", err)
		}
	}
	at.Results.Coverage = nil
	if r.o.SpillDir != "" {
		files, err := SpillArtifacts(r.o.SpillDir, p.Name, at.Results.Artifacts)
		if err != nil {
			r.o.Logger.Warn("keeping the artifacts in memory", "pod", p.Name, "error", err)
		}
		at.Results.Artifacts = files
	}
	c := collectedPod{at: at, at0: time.Now()}
	if ids := p.Annotations[k8s.AnnotationCases]; ids != "" {
		c.unit = true
		cases := make([]plan.Case, 0)
		for _, id := range strings.Split(ids, ",") {
			if cs, ok := r.cases[id]; ok {
				cases = append(cases, cs)
			}
		}
		timeout := r.o.Timeout
		if len(cases) > 0 {
			timeout = r.timeout(cases[0])
		}
		c.results = SettleUnit(at, cases, timeout)
	}
	return c
}

// finishCollect records a collected pod, on the loop.
func (r *run) finishCollect(p *corev1.Pod, c collectedPod) {
	obs := k8s.Observe(p, time.Now(), r.observeOptions())
	obs.Collected = true
	obs.Deleting = obs.Deleting || r.deleting[p.Name]
	tl := r.timeline(p.Name)
	tl.fromPod(p, c.at.Results)
	tl.Collected = c.at0
	if tl.Seen.IsZero() {
		tl.Seen = c.at0
	}
	rec := &record{pod: obs}
	if !c.unit {
		caseID := p.Labels[k8s.LabelCase]
		at := c.at
		at.Number = obs.Attempt
		obs.Outcome = at.Outcome
		rec.pod = obs
		rec.attempts = []caseAttempt{{id: caseID, at: at}}
		r.outcomes[caseID]++
		r.o.Logger.Debug("collected", "pod", p.Name, "status", at.Outcome.Status, "reason", at.Outcome.Reason, "results_error", at.ResultErr)
	} else {
		rec.pod.Outcome = c.at.Outcome
		rec.pod.Outcomes = make(map[string]plan.Outcome, len(c.results))
		rec.attempts = make([]caseAttempt, 0, len(c.results))
		for _, id := range obs.CaseIDs() {
			at, ok := c.results[id]
			if !ok {
				continue
			}
			r.outcomes[id]++
			at.Number = r.outcomes[id]
			rec.attempts = append(rec.attempts, caseAttempt{id: id, at: at})
			rec.pod.Outcomes[id] = at.Outcome
		}
		r.o.Logger.Debug("collected", "pod", p.Name, "tests", len(obs.Cases), "settled", len(c.results), "status", c.at.Outcome.Status, "reason", c.at.Outcome.Reason, "results_error", c.at.ResultErr)
	}
	r.collected[p.Name] = rec
	r.settling[p.Name] = true
	delete(r.seen, p.Name)
	if r.o.OnAttempt != nil {
		for _, ca := range rec.attempts {
			r.o.OnAttempt(r.cases[ca.id], ca.at)
		}
	}
}

// CollectAttempt reads the results of a finished attempt from its
// collector's log and settles its outcome. It also returns the log as read,
// so a caller can keep the results (the operator stores them). A missing or
// unreadable result is reported in Attempt.ResultErr; the outcome stands.
func CollectAttempt(ctx context.Context, client kubernetes.Interface, p *corev1.Pod, number int, opts k8s.ObserveOptions) (Attempt, []byte) {
	return collectAttempt(ctx, clock.RealClock{}, client, p, number, opts)
}

// collectAttempt is CollectAttempt with the clock that paces the wait for a
// running collector's block; nil means the real clock.
func collectAttempt(ctx context.Context, clk clock.Clock, client kubernetes.Interface, p *corev1.Pod, number int, opts k8s.ObserveOptions) (Attempt, []byte) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	obs := k8s.Observe(p, time.Now(), opts)
	at := Attempt{Number: number, Pod: p.Name, Node: p.Spec.NodeName, Outcome: obs.Outcome}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == k8s.TestContainer && cs.State.Terminated != nil {
			at.Started = cs.State.Terminated.StartedAt.Time
			at.Finished = cs.State.Terminated.FinishedAt.Time
		}
		if cs.Name == k8s.TestContainer && cs.State.Running != nil && obs.Outcome.Disrupted() {
			// Taken away mid-test: it ran from its start until now.
			at.Started = cs.State.Running.StartedAt.Time
		}
	}
	if at.Finished.IsZero() && obs.Outcome.Disrupted() {
		at.Finished = time.Now()
	}
	var log []byte
	if collectorRan(p) {
		var err error
		// A collector still running may not have printed its block yet: it
		// polls for the done marker. Give it a moment, bounded.
		deadline := clk.Now().Add(blockWait)
		for {
			log, err = k8s.Logs(ctx, client, p.Namespace, p.Name, k8s.CollectorContainer, logLimit)
			if err == nil {
				at.Results, err = ParseResults(log)
			}
			unfinished := errors.Is(err, transport.ErrNoBlock) || errors.Is(err, transport.ErrTruncated)
			if !unfinished || !collectorRunning(p) || !clk.Now().Before(deadline) || !sleep(ctx, clk, 100*time.Millisecond) {
				break
			}
		}
		at.ResultErr = err
	} else {
		at.ResultErr = errors.New("the collector never started")
	}
	if !at.Results.TestStart.IsZero() {
		at.Started, at.Finished = at.Results.TestStart, at.Results.TestExit
	}
	at.Outcome = Settle(at.Outcome, at.Results)
	return at, log
}

func sleep(ctx context.Context, clk clock.Clock, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-clk.After(d):
		return true
	}
}

// blockWait bounds how long a running collector's log is read again for a
// block it has not printed yet.
const blockWait = 2 * time.Second

func collectorRunning(p *corev1.Pod) bool {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.Name == k8s.CollectorContainer {
			return cs.State.Running != nil
		}
	}
	return false
}

func collectorRan(p *corev1.Pod) bool {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.Name == k8s.CollectorContainer {
			return cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil
		}
	}
	return false
}

// results assembles the case results from the planner and the collected
// attempts. It hands the records over: they go as the results are built,
// so that a large run does not hold both at once; call it once.
func (r *run) results() []CaseResult {
	byCase := make(map[string][]Attempt, len(r.o.Cases))
	for name, rec := range r.collected {
		for _, ca := range rec.attempts {
			at := ca.at
			if tl := r.timelines[name]; tl != nil {
				at.Timeline = *tl
			}
			byCase[ca.id] = append(byCase[ca.id], at)
		}
		delete(r.collected, name)
		delete(r.timelines, name)
	}
	var states []plan.CaseState
	if r.planner != nil {
		// In the order of the spec's cases, which are r.o.Cases.
		states = r.planner.Cases()
	}
	out := make([]CaseResult, 0, len(r.o.Cases))
	for i, c := range r.o.Cases {
		atts := byCase[c.ID]
		sortAttempts(atts)
		var st plan.CaseState
		if i < len(states) {
			st = states[i]
		}
		cr := CaseResult{Case: c, Attempts: atts, Final: st.Final, Flaky: st.Flaky(), Stopped: st.Stopped}
		if len(atts) > 0 {
			cr.Status = atts[len(atts)-1].Outcome.Status
		}
		out = append(out, cr)
	}
	return out
}

// PodEvent is a test pod starting or ending its test, for OnPod.
type PodEvent struct {
	Pod string
	// Tests are the test ids the pod runs.
	Tests []string
	// Running is true when the test container started, at Started; false
	// when the pod is done or gone.
	Running bool
	Started time.Time
}

// announce tells OnPod of a pod whose test container runs, once, and of
// its end, once.
func (r *run) announce(p *corev1.Pod, obs plan.Pod) {
	if r.o.OnPod == nil {
		return
	}
	if r.running == nil {
		r.running = map[string]bool{}
	}
	switch {
	case obs.Done:
		if r.running[p.Name] {
			delete(r.running, p.Name)
			r.o.OnPod(PodEvent{Pod: p.Name})
		}
	case !r.running[p.Name]:
		started, ok := testRunningSince(p)
		if !ok {
			return
		}
		r.running[p.Name] = true
		var tests []string
		for _, id := range obs.CaseIDs() {
			if c, ok := r.cases[id]; ok {
				tests = append(tests, c.TestID)
			}
		}
		r.o.OnPod(PodEvent{Pod: p.Name, Tests: tests, Running: true, Started: started})
	}
}

// announceGone tells OnPod of the end of running pods no longer listed.
func (r *run) announceGone(live map[string]*corev1.Pod) {
	for name := range r.running {
		if live[name] == nil {
			delete(r.running, name)
			r.o.OnPod(PodEvent{Pod: name})
		}
	}
}

// testRunningSince is when the pod's test container started, while it runs.
func testRunningSince(p *corev1.Pod) (time.Time, bool) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == k8s.TestContainer && cs.State.Running != nil {
			return cs.State.Running.StartedAt.Time, true
		}
	}
	return time.Time{}, false
}
