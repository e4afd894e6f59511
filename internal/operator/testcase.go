package operator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// CollectFunc reads a finished attempt's results; attempt.Collect
// over a clientset is the real one.
type CollectFunc func(ctx context.Context, pod *corev1.Pod, number int, opts k8s.ObserveOptions) (attempt.Attempt, []byte)

// TestCaseReconciler collects the finished pods of one test, records their
// attempts, and deletes the pods, all as plan.Next decides for that test.
type TestCaseReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder
	Collect   CollectFunc
	// NativeSidecar says whether the server runs native sidecars.
	NativeSidecar bool
	// Nodes follows the nodes' readiness, to end the pods of a lost node;
	// nil when the operator may not watch nodes.
	Nodes *k8s.NodeWatcher
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RunningAfter is how long a pod runs before its TestCase is written
	// Running: 0 means DefaultRunningAfter, a negative value at once.
	RunningAfter time.Duration

	reads reads
	// memory keeps the pods seen and not yet recorded, shared with the
	// TestRun reconciler; nil keeps none.
	memory *podMemory
}

// DefaultRunningAfter is how long a test's pod runs before the TestCase
// says so. Most tests end sooner: their TestCase is written once, when the
// attempt is recorded, instead of twice (at 10,000 tests a write each is
// 10,000 requests). A test that runs longer shows Running this much late.
const DefaultRunningAfter = 2 * time.Second

// shipGrace is how long a lingering collector, still running, may take to
// ship its results after the test exited before the attempt is recorded
// without them.
const shipGrace = 30 * time.Second

func (r *TestCaseReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile brings one test a step closer to done.
func (r *TestCaseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tc := &v1alpha1.TestCase{}
	if err := r.Client.Get(ctx, req.NamespacedName, tc); err != nil {
		if kerrors.IsNotFound(err) {
			r.reads.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading testcase: %w", err)
	}
	pods, err := r.pods(ctx, tc)
	if err != nil {
		return ctrl.Result{}, err
	}
	run := &v1alpha1.TestRun{}
	key := client.ObjectKey{Namespace: tc.Namespace, Name: tc.Spec.TestRun}
	err = r.Client.Get(ctx, key, run)
	if kerrors.IsNotFound(err) {
		// Ending a linger cannot be undone: ask the API server, not the
		// cache, whether the run is really gone.
		err = r.APIReader.Get(ctx, key, run)
	}
	if kerrors.IsNotFound(err) || tc.DeletionTimestamp != nil || run.DeletionTimestamp != nil || (err == nil && !controlledBy(tc, run.UID)) {
		// The garbage collector deletes what is left; a linger ends now.
		return ctrl.Result{}, endLinger(ctx, r.Client, pods)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading testrun %s: %w", tc.Spec.TestRun, err)
	}
	if tc.Spec.NotAffected != "" {
		return ctrl.Result{}, r.settleNotAffected(ctx, tc, run)
	}

	s := settingsOf(run, r.NativeSidecar, r.Nodes)
	now := r.now()
	live := make([]*corev1.Pod, 0, len(pods))
	for i := range pods {
		live = append(live, &pods[i])
	}
	live = r.memory.pods(tc.UID, live, recordedIn(tc), now)
	byName := make(map[string]*corev1.Pod, len(live))
	for _, p := range live {
		byName[p.Name] = p
	}
	obs := observed(tc, live, now, s.observeOptions())
	d := plan.Next(plan.Spec{Cases: []plan.Case{CaseOf(tc)}, Parallelism: 1, MaxAttempts: int(tc.Spec.MaxAttempts), InfraRetries: s.infraRetries, Stop: stopped(run)}, obs)

	var res ctrl.Result
	later := func(d time.Duration) {
		res.RequeueAfter = sooner(res.RequeueAfter, d)
	}
	for _, a := range d.Actions {
		pod := byName[a.Pod]
		switch {
		case pod == nil:
		case a.Kind == plan.Collect:
			done, wait, err := r.collect(ctx, tc, pod, a.Attempt, s)
			if err != nil || done {
				// The status update wakes this test again, to go on
				// from the recorded attempt.
				return ctrl.Result{}, err
			}
			later(wait)
		case a.Kind == plan.Delete:
			if hold := lingerLeft(run, tc, d.Cases[0], pod, now); hold > 0 {
				later(hold)
				continue
			}
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, pod, client.GracePeriodSeconds(0))); err != nil {
				return ctrl.Result{}, fmt.Errorf("deleting pod %s: %w", pod.Name, err)
			}
		}
	}
	if err := r.enforceTimeouts(ctx, tc, obs, byName, s, now, later); err != nil {
		return ctrl.Result{}, err
	}
	return r.record(ctx, tc, run, d.Cases[0], obs, byName, now, s, res)
}

// enforceTimeouts deletes the pods of tc that ran past the test's timeout
// and tells later when to look again at those still running or pending.
func (r *TestCaseReconciler) enforceTimeouts(ctx context.Context, tc *v1alpha1.TestCase, obs []plan.Pod, byName map[string]*corev1.Pod, s settings, now time.Time, later func(time.Duration)) error {
	for _, o := range obs {
		if o.Done {
			continue
		}
		p := byName[o.Name]
		if p == nil {
			continue
		}
		wait, err := r.enforceTimeout(ctx, p, s.linger, s.caseTimeout(tc), now)
		if err != nil {
			return err
		}
		later(wait)
		if p.Status.Phase == corev1.PodPending || p.Status.Phase == "" {
			// Being stuck is a matter of time, which no event reports.
			later(min(max(p.CreationTimestamp.Add(s.pendingTimeout).Sub(now), time.Second), 10*time.Second))
		}
	}
	return nil
}

// record writes what the pods of tc, and a running pod of its unit, say
// of the test into its status; res is the result when nothing fails.
func (r *TestCaseReconciler) record(ctx context.Context, tc *v1alpha1.TestCase, run *v1alpha1.TestRun, cs plan.CaseState, obs []plan.Pod, byName map[string]*corev1.Pod, now time.Time, s settings, res ctrl.Result) (ctrl.Result, error) {
	unit, err := runningUnitPod(ctx, r.Client, tc, run, now, s.observeOptions())
	if err != nil {
		return ctrl.Result{}, err
	}
	if unit != nil {
		// A pod of the test's unit runs it: the test is running there.
		obs = append(obs, plan.Pod{Name: unit.Name})
		byName[unit.Name] = unit
	}
	st := tc.Status.DeepCopy()
	running := describe(st, cs, obs, byName)
	if wait := r.notYetRunning(tc, st, running, now); wait > 0 {
		// Only the start would be written: wait, the attempt may be
		// recorded first.
		return ctrl.Result{RequeueAfter: sooner(res.RequeueAfter, wait)}, nil
	}
	if !equality.Semantic.DeepEqual(st, &tc.Status) {
		tc.Status = *st
		if err := r.Client.Status().Update(ctx, tc); err != nil {
			if kerrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
			}
			return ctrl.Result{}, fmt.Errorf("updating status of testcase %s: %w", tc.Name, err)
		}
	}
	return res, nil
}

// notYetRunning is how long to wait before writing st when all that
// changed is that running, the pod of a new attempt, has started less than
// RunningAfter ago; 0 to write now.
func (r *TestCaseReconciler) notYetRunning(tc *v1alpha1.TestCase, st *v1alpha1.TestCaseStatus, running *corev1.Pod, now time.Time) time.Duration {
	after := cmp.Or(r.RunningAfter, DefaultRunningAfter)
	if after < 0 || running == nil || running.Status.StartTime == nil ||
		tc.Status.Phase == v1alpha1.CaseRunning || st.Phase != v1alpha1.CaseRunning || len(st.History) != len(tc.Status.History) {
		return 0
	}
	return max(running.Status.StartTime.Add(after).Sub(now), 0)
}

// pods lists the pods tc controls.
func (r *TestCaseReconciler) pods(ctx context.Context, tc *v1alpha1.TestCase) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := r.Client.List(ctx, list, client.InNamespace(tc.Namespace),
		client.MatchingLabels{k8s.LabelRun: tc.Spec.TestRun, k8s.LabelCase: CaseOf(tc).ID}); err != nil {
		return nil, fmt.Errorf("listing pods of testcase %s: %w", tc.Name, err)
	}
	out := list.Items[:0]
	for _, p := range list.Items {
		if controlledBy(&p, tc.UID) {
			out = append(out, p)
		}
	}
	return out, nil
}

// collect reads a finished attempt, keeps its results beside the TestCase,
// then records it in the TestCase's status, and reports whether it did.
// The read runs beside the reconcile, whose next pass, which the read's
// end wakes, records it. collect returns how long to wait when a lingering
// collector has not shipped yet.
func (r *TestCaseReconciler) collect(ctx context.Context, tc *v1alpha1.TestCase, pod *corev1.Pod, number int, s settings) (bool, time.Duration, error) {
	log := logf.FromContext(ctx)
	tc = tc.DeepCopy()
	now := r.now()
	got, ok, wait := r.reads.take(ctx, tc, pod, func(ctx context.Context, pod *corev1.Pod) collected {
		at, raw := collectOrLose(ctx, r.Collect, pod, number, s, now)
		return collected{at, raw}
	})
	if !ok {
		return false, wait, nil
	}
	at, raw := got.at, got.raw
	if at.ResultErr != nil && attempt.CollectorRunning(pod) && notYetShipped(at.ResultErr) && r.now().Sub(at.Finished) < shipGrace {
		return false, time.Second, nil
	}
	if at.ResultErr == nil {
		cm, err := resultsConfigMap(tc, number, raw)
		if err == nil {
			err = put(ctx, r.Client, r.APIReader, cm)
		}
		var tooLarge *TooLargeError
		switch {
		case errors.As(err, &tooLarge):
			at.ResultErr = err
		case err != nil:
			return false, 0, fmt.Errorf("storing results of pod %s: %w", pod.Name, err)
		default:
			tc.Status.Results = cm.Name
		}
		if err := keepCoverage(ctx, r.Client, r.APIReader, r.Recorder, tc, v1alpha1.GroupVersion.WithKind("TestCase"), tc.Spec.TestRun, pod, at.Results.Coverage); err != nil {
			return false, 0, fmt.Errorf("storing the coverage data of pod %s: %w", pod.Name, err)
		}
	}
	rec := record(at)
	tc.Status.History = append(tc.Status.History, rec)
	obs := observed(tc, nil, r.now(), s.observeOptions())
	st := plan.Next(plan.Spec{Cases: []plan.Case{CaseOf(tc)}, Parallelism: 1, MaxAttempts: int(tc.Spec.MaxAttempts), InfraRetries: s.infraRetries}, obs).Cases[0]
	describe(&tc.Status, st, nil, nil)
	if err := r.Client.Status().Update(ctx, tc); err != nil {
		if kerrors.IsConflict(err) {
			// A stale copy; the fresh one may already hold this attempt.
			return false, 100 * time.Millisecond, nil
		}
		return false, 0, fmt.Errorf("recording attempt %d of testcase %s: %w", number, tc.Name, err)
	}
	log.V(1).Info("recorded attempt", "testcase", tc.Name, "attempt", number, "status", rec.Status, "reason", rec.Reason)
	attemptRecorded(r.Recorder, tc, pod, st, rec, s)
	return true, 0, nil
}

// attemptRecorded counts a recorded attempt and reports it on its
// TestCase with an event, unless it is the test's only attempt and it
// passed or was skipped: the common case of a large run, which the
// TestCase's status and the run's counts already tell, at one API write a
// test. A failure, an error, a retry and a pass after a retry each get one.
func attemptRecorded(recorder events.EventRecorder, tc *v1alpha1.TestCase, pod *corev1.Pod, st plan.CaseState, rec v1alpha1.Attempt, s settings) {
	attemptsCollected.WithLabelValues(rec.Status, rec.Reason).Inc()
	kind := corev1.EventTypeNormal
	if rec.Status == string(plan.Failed) || rec.Status == string(plan.Error) {
		kind = corev1.EventTypeWarning
	}
	if st.Final && kind == corev1.EventTypeNormal && len(st.Attempts) == 1 {
		countFinished(st, rec)
		return
	}
	note := fmt.Sprintf("attempt %d %s", rec.Number, rec.Status)
	if rec.Reason != "" {
		note += " (" + rec.Reason + ")"
	}
	if rec.Message != "" {
		note += ": " + firstLine(rec.Message)
	}
	reason := strings.ToUpper(rec.Status[:1]) + rec.Status[1:]
	if !st.Final {
		reason = "AttemptFailed"
	}
	recorder.Eventf(tc, pod, kind, reason, "Collect", "%s", truncate(note, 1000))
	if !st.Final {
		return
	}
	countFinished(st, rec)
	if s.linger > 0 && kind == corev1.EventTypeWarning && attempt.CollectorRunning(pod) {
		recorder.Eventf(tc, pod, corev1.EventTypeNormal, "Lingering", "Hold", "pod %s stays for %s for inspection", pod.Name, s.linger)
	}
}

// countFinished counts a test that has its verdict.
func countFinished(st plan.CaseState, rec v1alpha1.Attempt) {
	casesFinished.WithLabelValues(rec.Status).Inc()
	if st.Flaky() {
		casesFlaky.Inc()
	}
}

// describe derives the status fields from the recorded attempts and the
// pod that runs the test: one that has started and whose attempt is not
// recorded yet, so that a test whose pod has ended stays Running until
// its attempt is recorded, with no write in between. It returns that pod.
func describe(st *v1alpha1.TestCaseStatus, cs plan.CaseState, obs []plan.Pod, pods map[string]*corev1.Pod) (running *corev1.Pod) {
	st.Attempts = int32(len(st.History))
	for _, o := range obs {
		if p := pods[o.Name]; p != nil && !o.Collected && p.Status.Phase != corev1.PodPending && p.Status.Phase != "" {
			running = p
		}
	}
	st.Phase = casePhase(cs, running != nil)
	st.Flaky = cs.Flaky()
	if n := len(st.History); n > 0 {
		last := st.History[n-1]
		st.ExitCode = &last.ExitCode
		st.Reason, st.Message, st.Pod, st.Node = last.Reason, last.Message, last.Pod, last.Node
		st.Duration = nil
		if d, ok := attemptDuration(last); ok {
			st.Duration = &metav1.Duration{Duration: d.Round(time.Millisecond)}
		}
	}
	// A pod is named in the status once it runs, not while it is pending
	// or being scheduled: one status write per attempt started, not one
	// per phase of the pod (at 10,000 tests these writes were the
	// operator's ceiling under the client's rate limit), and none for an
	// attempt recorded within RunningAfter of its start.
	if running != nil {
		st.Pod, st.Node = running.Name, running.Spec.NodeName
	}
	return running
}

// enforceTimeout ends an attempt that outlived the test's timeout. Only a
// lingering pod needs it: its deadline was stretched by the linger.
func (r *TestCaseReconciler) enforceTimeout(ctx context.Context, p *corev1.Pod, linger, timeout time.Duration, now time.Time) (time.Duration, error) {
	if linger <= 0 || timeout <= 0 || p.Status.StartTime == nil || p.DeletionTimestamp != nil {
		return 0, nil
	}
	left := p.Status.StartTime.Add(timeout).Sub(now)
	if left > 0 {
		return left, nil
	}
	elapsed := int64(now.Sub(p.Status.StartTime.Time)/time.Second) + 1
	if d := p.Spec.ActiveDeadlineSeconds; d != nil && *d <= elapsed {
		return 0, nil
	}
	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.ActiveDeadlineSeconds = &elapsed
	if err := r.Client.Patch(ctx, p, patch); err != nil {
		return 0, client.IgnoreNotFound(fmt.Errorf("ending pod %s at its timeout: %w", p.Name, err))
	}
	return 0, nil
}

// lingerLeft is how much longer the pod of a test that finally failed
// stays for inspection.
func lingerLeft(run *v1alpha1.TestRun, tc *v1alpha1.TestCase, cs plan.CaseState, pod *corev1.Pod, now time.Time) time.Duration {
	linger := time.Duration(run.Spec.LingerSecondsOnFailure) * time.Second
	if linger <= 0 || !cs.Final || !lingering(pod) || run.DeletionTimestamp != nil {
		return 0
	}
	if st := cs.Status(); st != plan.Failed && st != plan.Error {
		return 0
	}
	var last *v1alpha1.Attempt
	for i := range tc.Status.History {
		if tc.Status.History[i].Pod == pod.Name {
			last = &tc.Status.History[i]
		}
	}
	if last == nil || int(last.Number) != lastRecorded(tc) {
		return 0
	}
	end := now
	if last.FinishTime != nil {
		end = last.FinishTime.Add(linger)
	}
	return max(end.Sub(now), 0)
}

// endLinger writes 0 to the linger annotation of the lingering pods, which
// their collectors read as "stop now".
func endLinger(ctx context.Context, c client.Client, pods []corev1.Pod) error {
	var errs []error
	for i := range pods {
		p := &pods[i]
		if !lingering(p) {
			continue
		}
		patch := client.MergeFrom(p.DeepCopy())
		p.Annotations[AnnotationLinger] = "0"
		if err := c.Patch(ctx, p, patch); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("ending linger of pod %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// notYetShipped says a log holds no complete block yet.
func notYetShipped(err error) bool {
	return errors.Is(err, transport.ErrNoBlock) || errors.Is(err, transport.ErrTruncated)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
