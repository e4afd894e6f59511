package operator

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/faketime"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// LogsFunc reads a container's log.
type LogsFunc func(ctx context.Context, namespace, pod, container string) ([]byte, error)

// TestRunReconciler discovers a run's tests, creates its TestCases, creates
// their pods as plan.Next decides over the whole run, and keeps the run's
// summary.
type TestRunReconciler struct {
	Client client.Client
	// APIReader reads from the API server, past the cache, where a stale
	// read could run a test once too often.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Logs reads the discovery pod's log.
	Logs LogsFunc
	// Collect reads a finished unit pod's results (a pod of a class, file
	// or shard of tests, which the run owns).
	Collect CollectFunc
	// NativeSidecar says whether the server runs native sidecars; it
	// decides Sidecar auto.
	NativeSidecar bool
	// Nodes follows the nodes' readiness, to end the pods of a lost node;
	// nil when the operator may not watch nodes.
	Nodes *k8s.NodeWatcher
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	expect     expectations
	quarantine quarantines
	reads      reads
	// memory keeps the pods seen and not yet recorded, shared with the
	// TestCase reconciler; nil keeps none.
	memory *podMemory
}

// casesSettle is how long a run waits for the cache to show the TestCases
// it created before it carries on with those it sees.
const casesSettle = 30 * time.Second

func (r *TestRunReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile brings one run a step closer to done.
func (r *TestRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	run := &v1alpha1.TestRun{}
	if err := r.Client.Get(ctx, req.NamespacedName, run); err != nil {
		if kerrors.IsNotFound(err) {
			r.expect.forget(req.NamespacedName)
			r.reads.forget(req.NamespacedName)
			r.quarantine.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading testrun: %w", err)
	}
	if run.DeletionTimestamp != nil {
		// The garbage collector deletes the TestCases and pods; a linger
		// ends now rather than when the pods' grace period runs out.
		return ctrl.Result{}, r.endLinger(ctx, run)
	}
	if run.Status.Phase.Finished() {
		r.quarantine.forget(req.NamespacedName)
		return r.finished(ctx, run)
	}
	st := run.Status.DeepCopy()
	if st.Phase == "" {
		st.Phase = v1alpha1.RunPending
		st.StartTime = &metav1.Time{Time: r.now()}
	}
	st.ObservedGeneration = run.Generation
	res, err := r.progress(ctx, run, st)
	if uerr := r.updateStatus(ctx, run, st); uerr != nil {
		if kerrors.IsConflict(uerr) {
			// A stale copy: look again at the fresh one.
			return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, err
		}
		return ctrl.Result{}, uerr
	}
	return res, err
}

func (r *TestRunReconciler) updateStatus(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus) error {
	if equality.Semantic.DeepEqual(&run.Status, st) {
		return nil
	}
	before := run.Status.Phase
	run.Status = *st
	if err := r.Client.Status().Update(ctx, run); err != nil {
		return fmt.Errorf("updating status of testrun %s: %w", run.Name, err)
	}
	if st.Phase != before && st.Phase.Finished() {
		runsFinished.WithLabelValues(string(st.Phase)).Inc()
		kind := corev1.EventTypeNormal
		if st.Phase != v1alpha1.RunSucceeded {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(run, nil, kind, string(st.Phase), "Finish", "%s", st.Message)
	}
	return nil
}

// progress discovers the tests, then schedules their pods.
func (r *TestRunReconciler) progress(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus) (ctrl.Result, error) {
	s := settingsOf(run, r.NativeSidecar, r.Nodes)
	// A template that cannot make a pod fails the run at once, not once
	// per test.
	probe := &v1alpha1.TestCase{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Spec: v1alpha1.TestCaseSpec{TestID: "probe"}}
	pod, err := testPod(run, probe, 1, s)
	if err != nil {
		r.fail(st, "InvalidPodTemplate", err.Error())
		return ctrl.Result{}, nil
	}
	if run.Spec.APICoverage != "" && pod.Spec.ServiceAccountName == "" {
		r.fail(st, "InvalidAPICoverage", "spec.apiCoverage needs test pods that call the API as themselves: give spec.podTemplate a serviceAccountName")
		return ctrl.Result{}, nil
	}
	if run.Spec.Faketime != "" {
		if err := faketime.Validate(run.Spec.Faketime); err != nil {
			r.fail(st, "InvalidFaketime", fmt.Sprintf("spec.faketime %q: %v", run.Spec.Faketime, err))
			return ctrl.Result{}, nil
		}
	}
	ql, err := r.quarantine.get(ctx, r.APIReader, run)
	if err == nil {
		cases, res, err := r.testCases(ctx, run, st, s)
		if err != nil || cases == nil {
			return res, err
		}
		if err = checkQuarantine(ql, run, cases); err == nil {
			return r.schedule(ctx, run, st, cases, s, ql)
		}
	}
	if isBadQuarantine(err) {
		r.fail(st, "InvalidQuarantine", err.Error())
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// fail ends a run that cannot be carried out.
func (r *TestRunReconciler) fail(st *v1alpha1.TestRunStatus, reason, msg string) {
	st.Phase = v1alpha1.RunError
	st.Message = truncate(msg, maxMessage)
	st.CompletionTime = &metav1.Time{Time: r.now()}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionComplete, Status: metav1.ConditionTrue, Reason: reason, Message: st.Message,
	})
}

// schedule evaluates plan.Next over the run and creates the pods it asks
// for. Collecting and deleting are the TestCase reconciler's part of the
// same decision.
func (r *TestRunReconciler) schedule(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus, cases []*v1alpha1.TestCase, s settings, ql *quarantine.List) (ctrl.Result, error) {
	byOwner, err := r.podsByOwner(ctx, run)
	if err != nil {
		return ctrl.Result{}, err
	}
	cases, notAffected := splitNotAffected(cases)
	st.NotAffected = int32(notAffected)
	now := r.now()
	spec := plan.Spec{Parallelism: s.parallelism, MaxAttempts: s.maxAttempts, InfraRetries: s.infraRetries, MaxFailures: int(run.Spec.MaxFailures), Stop: stopped(run), FlakyAttempts: s.flakyAttempts}
	byID := make(map[string]*v1alpha1.TestCase, len(cases))
	var obs []plan.Pod
	for _, tc := range cases {
		c := CaseOf(tc)
		spec.Cases = append(spec.Cases, c)
		byID[c.ID] = tc
		obs = append(obs, observedAlone(tc, r.memory.pods(tc.UID, byOwner[tc.UID], recordedIn(tc), now), now, s.observeOptions())...)
	}
	spec.Units = s.units(spec.Cases, expectedDurations(cases))
	spec.Excused = excused(ql, cases, st.StartTime)
	units := r.memory.pods(run.UID, byOwner[run.UID], heldByAny(cases), now)
	unitPods := map[string]*corev1.Pod{}
	for _, p := range units {
		unitPods[p.Name] = p
	}
	obs = append(obs, observedUnits(cases, units, now, s.observeOptions())...)
	key := client.ObjectKeyFromObject(run)
	obs = r.expect.merge(key, obs, now)
	d := plan.Next(spec, obs)

	var res ctrl.Result
	if d.Stopped {
		wait, err := r.stop(ctx, run, st, d, obs, byID)
		if err != nil || wait > 0 {
			count(st, d, obs, spec.Excused)
			return ctrl.Result{RequeueAfter: wait}, err
		}
	}
	for _, a := range d.Actions {
		var wait time.Duration
		var err error
		switch {
		case unitPods[a.Pod] != nil && a.Kind == plan.Collect:
			wait, err = r.collectUnit(ctx, run, unitPods[a.Pod], byID, s)
		case unitPods[a.Pod] != nil && a.Kind == plan.Delete:
			err = r.deletePod(ctx, run.Namespace, a.Pod)
		case a.Kind == plan.Create && isUnit(a):
			wait, err = r.createUnit(ctx, run, a, byID, s)
		case a.Kind == plan.Create:
			wait, err = r.create(ctx, run, byID[a.Case.ID], a.Attempt, s)
		}
		if err != nil {
			return res, err
		}
		res.RequeueAfter = sooner(res.RequeueAfter, wait)
	}
	for _, p := range unitPods {
		if p.Status.Phase == corev1.PodPending || p.Status.Phase == "" {
			// Being stuck is a matter of time, which no event reports; a
			// unit's pod has no TestCase reconciler to look again.
			res.RequeueAfter = sooner(res.RequeueAfter, min(max(p.CreationTimestamp.Add(s.pendingTimeout).Sub(now), time.Second), 10*time.Second))
		}
	}
	count(st, d, obs, spec.Excused)
	if d.Done {
		r.complete(ctx, run, st)
		if err := r.saveDurations(ctx, run, cases); err != nil {
			logf.FromContext(ctx).Error(err, "saving the durations", "testrun", run.Name)
			r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, "DurationsNotSaved", "SaveDurations", "%s", truncate(err.Error(), 500))
		}
	}
	return res, nil
}

// podsByOwner lists the test pods of run by the UID of their controller:
// a TestCase, or the run itself for a unit's pod.
func (r *TestRunReconciler) podsByOwner(ctx context.Context, run *v1alpha1.TestRun) (map[types.UID][]*corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.InNamespace(run.Namespace),
		client.MatchingLabels{k8s.LabelRun: run.Name, k8s.LabelRole: "test"}); err != nil {
		return nil, fmt.Errorf("listing pods of run %s: %w", run.Name, err)
	}
	byOwner := map[types.UID][]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if ref := metav1.GetControllerOf(p); ref != nil {
			byOwner[ref.UID] = append(byOwner[ref.UID], p)
		}
	}
	return byOwner, nil
}

// count sets the summary from the decision: the tests that pytest's
// collection skipped, and the cases with a verdict.
func count(st *v1alpha1.TestRunStatus, d plan.Decision, obs []plan.Pod, excused map[string]bool) {
	var c report.Counts
	for _, cs := range d.Cases {
		if !cs.Final {
			continue
		}
		status := cs.Status()
		if status != plan.Passed && status != plan.Failed && status != plan.Skipped {
			status = plan.Error
		}
		c.Add(report.Tally{Status: status, NotRun: cs.Stopped && len(cs.Attempts) == 0, Flaky: cs.Flaky(),
			Quarantined: excused[cs.Case.ID] && (status == plan.Failed || status == plan.Error)})
	}
	st.Total = int32(len(d.Cases)) + st.CollectionSkipped + st.NotAffected
	st.Passed, st.Failed, st.Errors, st.Flaky, st.NotRun = int32(c.Passed), int32(c.Failed), int32(c.Errors), int32(c.Flaky), int32(c.NotRun)
	st.Quarantined = int32(c.Quarantined)
	st.Skipped = st.CollectionSkipped + int32(c.Skipped)
	st.Active = 0
	for _, o := range obs {
		if !o.Done {
			st.Active++
		}
	}
}

// sooner is the shorter of two waits, where zero means none.
func sooner(a, b time.Duration) time.Duration {
	if b > 0 && (a == 0 || b < a) {
		return b
	}
	return a
}

// create starts one attempt, after a read past the cache confirms that the
// previous attempt is recorded and this one is not: a stale cache must not
// run a test twice.
func (r *TestRunReconciler) create(ctx context.Context, run *v1alpha1.TestRun, tc *v1alpha1.TestCase, attempt int, s settings) (time.Duration, error) {
	log := logf.FromContext(ctx)
	live := &v1alpha1.TestCase{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(tc), live); err != nil {
		return 0, fmt.Errorf("reading testcase %s: %w", tc.Name, err)
	}
	if live.UID != tc.UID || live.DeletionTimestamp != nil || lastRecorded(live) != attempt-1 {
		log.V(1).Info("cache is behind; not creating", "testcase", tc.Name, "attempt", attempt, "recorded", lastRecorded(live))
		return time.Second, nil
	}
	pod, err := testPod(run, live, attempt, s)
	if err != nil {
		return 0, err
	}
	err = r.Client.Create(ctx, pod)
	if kerrors.IsAlreadyExists(err) {
		cur := &corev1.Pod{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pod), cur); err != nil {
			return 0, fmt.Errorf("reading pod %s: %w", pod.Name, err)
		}
		if !controlledBy(cur, live.UID) {
			// A pod of an earlier run of the same name is still going.
			return 2 * time.Second, nil
		}
		err = nil
	}
	if err != nil {
		return 0, k8s.Explain("creating pod "+pod.Name, pod.Namespace, err)
	}
	r.expect.add(client.ObjectKeyFromObject(run), plan.Pod{Name: pod.Name, CaseID: CaseOf(live).ID, Attempt: attempt}, r.now())
	podsCreated.Inc()
	log.V(1).Info("created pod", "pod", pod.Name, "test", live.Spec.TestID, "attempt", attempt)
	if attempt > 1 {
		r.Recorder.Eventf(live, pod, corev1.EventTypeNormal, "Retrying", "CreatePod", "attempt %d of %d in pod %s", attempt, s.maxAttemptsOf(live.Spec.Lane), pod.Name)
	}
	return 0, nil
}

// complete finishes a run whose tests are all final and stores its report.
func (r *TestRunReconciler) complete(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus) {
	st.Phase = v1alpha1.RunSucceeded
	reason := "AllPassed"
	if st.Failed > 0 || st.Errors > 0 {
		st.Phase, reason = v1alpha1.RunFailed, "TestsFailed"
	}
	st.CompletionTime = &metav1.Time{Time: r.now()}
	st.Message = fmt.Sprintf("%d tests: %d passed, %d failed, %d errors, %d skipped, %d flaky",
		st.Total, st.Passed, st.Failed, st.Errors, st.Skipped, st.Flaky)
	if st.NotRun > 0 {
		st.Message += fmt.Sprintf(", %d not run", st.NotRun)
	}
	if st.Quarantined > 0 {
		st.Message += fmt.Sprintf(", %d quarantined", st.Quarantined)
	}
	if st.NotAffected > 0 {
		st.Message += fmt.Sprintf(", %d not affected", st.NotAffected)
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionComplete, Status: metav1.ConditionTrue, Reason: reason, Message: st.Message,
	})
	view := run.DeepCopy()
	view.Status = *st
	ref, rep, err := r.storeReport(ctx, view)
	r.remember(ctx, run, rep, st)
	r.warnExpired(run, rep)
	if err != nil {
		logf.FromContext(ctx).Error(err, "storing the report", "testrun", run.Name)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: v1alpha1.ConditionReportReady, Status: metav1.ConditionFalse, Reason: "StoreFailed", Message: truncate(err.Error(), maxMessage),
		})
		return
	}
	st.Report = ref
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionReportReady, Status: metav1.ConditionTrue, Reason: "Stored",
		Message: fmt.Sprintf("JUnit report in configmap %s, key %s", ref.ConfigMap, ref.Key),
	})
}

// storeReport stores the run's report, and returns it once loaded even
// if storing it failed.
func (r *TestRunReconciler) storeReport(ctx context.Context, run *v1alpha1.TestRun) (*v1alpha1.ReportRef, *report.Report, error) {
	rep, err := LoadReport(ctx, r.APIReader, run)
	if err != nil {
		return nil, nil, err
	}
	cm, ref, err := reportConfigMap(run, rep)
	if err != nil {
		return nil, rep, err
	}
	if err := put(ctx, r.Client, r.APIReader, cm); err != nil {
		return nil, rep, err
	}
	return ref, rep, nil
}

// finished tidies a finished run and deletes it once its TTL passed.
func (r *TestRunReconciler) finished(ctx context.Context, run *v1alpha1.TestRun) (ctrl.Result, error) {
	if err := r.deletePod(ctx, run.Namespace, DiscoveryPodName(run.Name)); err != nil {
		return ctrl.Result{}, err
	}
	ttl := run.Spec.TTLSecondsAfterFinished
	if ttl == nil || run.Status.CompletionTime == nil {
		return ctrl.Result{}, nil
	}
	left := run.Status.CompletionTime.Add(time.Duration(*ttl) * time.Second).Sub(r.now())
	if left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	if err := r.endLinger(ctx, run); err != nil {
		return ctrl.Result{}, err
	}
	r.Recorder.Eventf(run, nil, corev1.EventTypeNormal, "Expired", "Delete", "deleting the run %ds after it finished", *ttl)
	err := r.Client.Delete(ctx, run, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &run.UID})
	if err != nil && !kerrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("deleting expired testrun %s: %w", run.Name, err)
	}
	runsExpired.Inc()
	return ctrl.Result{}, nil
}

// endLinger tells the collectors of the run's lingering pods to stop.
func (r *TestRunReconciler) endLinger(ctx context.Context, run *v1alpha1.TestRun) error {
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.InNamespace(run.Namespace),
		client.MatchingLabels{k8s.LabelRun: run.Name, k8s.LabelRole: "test"}); err != nil {
		return fmt.Errorf("listing pods of run %s: %w", run.Name, err)
	}
	return endLinger(ctx, r.Client, pods.Items)
}

// deletePod deletes a pod the cache shows.
func (r *TestRunReconciler) deletePod(ctx context.Context, namespace, name string) error {
	pod := &corev1.Pod{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pod)
	if kerrors.IsNotFound(err) || (err == nil && pod.DeletionTimestamp != nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading pod %s: %w", name, err)
	}
	err = r.Client.Delete(ctx, pod, client.GracePeriodSeconds(0))
	if err != nil && !kerrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s: %w", name, err)
	}
	return nil
}
