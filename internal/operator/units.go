package operator

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// A run with PodPer class, file or auto, or with Shards, groups its tests into
// units, and one pod runs the tests of a unit. Such a pod belongs to the
// TestRun, not to a TestCase: the TestRun reconciler creates it, collects
// it (one collector log, settled test by test as direct mode settles it),
// records an attempt in the status of each TestCase the pod settled, and
// deletes it. A test the pod never reached gets no attempt and runs again
// in the unit's next pod.
//
// The pod is marked collected (AnnotationCollected) only once every test it
// settled holds its attempt, and deleted only after that; an attempt names
// its pod, so collecting a pod again, after a crash half-way, records only
// what is missing. Once the pod is gone, the attempts that name it stand
// for it.

// AnnotationCollected, on a unit's pod, says every test the pod settled
// holds its attempt.
const AnnotationCollected = "k8s-testrun.io/collected"

// units groups a run's cases, ordered and balanced by the tests' past
// durations; nil when each test runs alone in discovery's order.
func (s settings) units(cases []plan.Case, durations map[string]time.Duration) []plan.Unit {
	if s.grouping.Shards <= 0 && (s.grouping.PodPer == "" || s.grouping.PodPer == plan.PerTest) && len(durations) == 0 {
		return nil
	}
	g := s.grouping
	g.Durations = durations
	return plan.GroupBases(cases, g)
}

// isUnit reports an action on a pod of several tests, or of a unit that is
// not a test's own.
func isUnit(a plan.Action) bool {
	return len(a.Cases) > 1 || (len(a.Cases) == 1 && a.Unit != a.Case.ID)
}

// observedAlone is observed with only the attempts of tc's own pods: the
// attempts made in a unit's pods are observed with that pod.
func observedAlone(tc *v1alpha1.TestCase, pods []*corev1.Pod, now time.Time, opts k8s.ObserveOptions) []plan.Pod {
	own := tc
	for _, a := range tc.Status.History {
		if a.Unit != "" {
			own = tc.DeepCopy()
			own.Status.History = own.Status.History[:0]
			for _, a := range tc.Status.History {
				if a.Unit == "" {
					own.Status.History = append(own.Status.History, a)
				}
			}
			break
		}
	}
	return observed(own, pods, now, opts)
}

// observedUnits merges the run's unit pods with the attempts the TestCases
// recorded from them into the plan's view: a live pod is collected once
// marked so, and a pod that is gone is collected with the outcomes its
// tests recorded.
func observedUnits(cases []*v1alpha1.TestCase, pods []*corev1.Pod, now time.Time, opts k8s.ObserveOptions) []plan.Pod {
	type rec struct {
		unit     string
		attempt  int
		cases    []string
		outcomes map[string]plan.Outcome
	}
	recs := map[string]*rec{}
	for _, tc := range cases {
		id := CaseOf(tc).ID
		for _, a := range tc.Status.History {
			if a.Unit == "" {
				continue
			}
			r := recs[a.Pod]
			if r == nil {
				r = &rec{unit: a.Unit, attempt: int(a.UnitAttempt), outcomes: map[string]plan.Outcome{}}
				recs[a.Pod] = r
			}
			if _, dup := r.outcomes[id]; !dup {
				r.cases = append(r.cases, id)
			}
			r.outcomes[id] = outcomeOf(a)
		}
	}
	out := make([]plan.Pod, 0, len(pods)+len(recs))
	seen := map[string]bool{}
	for _, p := range pods {
		o := k8s.Observe(p, now, opts)
		if o.Attempt < 1 {
			continue
		}
		if r := recs[p.Name]; r != nil && p.Annotations[AnnotationCollected] != "" {
			o.Done, o.Collected, o.Outcomes = true, true, r.outcomes
		}
		seen[p.Name] = true
		out = append(out, o)
	}
	for name, r := range recs {
		if !seen[name] {
			out = append(out, plan.Pod{Name: name, CaseID: r.unit, Attempt: r.attempt, Cases: r.cases,
				Done: true, Collected: true, Deleting: true, Gone: true, Outcomes: r.outcomes})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// createUnit starts a unit's pod, after a read past the cache confirms
// that each of its tests holds the attempts the decision counted: a stale
// cache must not run a test twice.
func (r *TestRunReconciler) createUnit(ctx context.Context, run *v1alpha1.TestRun, a plan.Action, byID map[string]*v1alpha1.TestCase, s settings) (time.Duration, error) {
	log := logf.FromContext(ctx)
	behind, err := r.cacheBehind(ctx, a, byID)
	if err != nil {
		return 0, err
	}
	if behind != "" {
		log.V(1).Info("cache is behind; not creating", "testcase", behind, "unit", a.Unit, "attempt", a.Attempt)
		return time.Second, nil
	}
	ids := make([]string, 0, len(a.Cases))
	for _, c := range a.Cases {
		ids = append(ids, c.ID)
	}
	tmpl, err := podTemplate(run)
	if err != nil {
		return 0, err
	}
	pod, err := k8s.TestPod(k8s.TestPodOptions{
		Namespace:      run.Namespace,
		RunID:          run.Name,
		Unit:           a.Unit,
		Cases:          a.Cases,
		Attempt:        a.Attempt,
		Image:          cmp.Or(a.Case.Image, run.Spec.Image),
		Timeout:        s.caseTimeout(byID[a.Case.ID]),
		NativeSidecar:  s.native,
		ResultLimit:    int(run.Spec.ResultLimit),
		Template:       tmpl,
		ServiceTimeout: s.pendingTimeout,
	})
	if err != nil {
		return 0, err
	}
	pod.OwnerReferences = []metav1.OwnerReference{controllerRef(run, v1alpha1.GroupVersion.WithKind("TestRun"))}
	err = r.Client.Create(ctx, pod)
	if kerrors.IsAlreadyExists(err) {
		cur := &corev1.Pod{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pod), cur); err != nil {
			return 0, fmt.Errorf("reading pod %s: %w", pod.Name, err)
		}
		if !controlledBy(cur, run.UID) {
			// A pod of an earlier run of the same name is still going.
			return 2 * time.Second, nil
		}
		err = nil
	}
	if err != nil {
		return 0, k8s.Explain("creating pod "+pod.Name, pod.Namespace, err)
	}
	r.expect.add(client.ObjectKeyFromObject(run), plan.Pod{Name: pod.Name, CaseID: a.Unit, Attempt: a.Attempt, Cases: ids}, r.now())
	podsCreated.Inc()
	log.V(1).Info("created pod", "pod", pod.Name, "unit", a.Unit, "tests", len(ids), "attempt", a.Attempt)
	return 0, nil
}

// cacheBehind reads each of a unit's TestCases past the cache, side by
// side, and names one whose attempts differ from what the decision
// counted (or that is gone); "" when every one matches.
func (r *TestRunReconciler) cacheBehind(ctx context.Context, a plan.Action, byID map[string]*v1alpha1.TestCase) (string, error) {
	var (
		mu     sync.Mutex
		behind string
		g      errgroup.Group
	)
	g.SetLimit(recordWorkers)
	for _, c := range a.Cases {
		tc := byID[c.ID]
		g.Go(func() error {
			live := &v1alpha1.TestCase{}
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(tc), live); err != nil {
				return fmt.Errorf("reading testcase %s: %w", tc.Name, err)
			}
			if live.UID != tc.UID || live.DeletionTimestamp != nil || len(live.Status.History) != len(tc.Status.History) {
				mu.Lock()
				behind = tc.Name
				mu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	return behind, err
}

// collectUnit reads a finished unit pod, records the attempt of each test
// it settled that does not hold it yet, then marks the pod collected. The
// read runs beside the reconcile: until it ends, collectUnit returns at
// once, and the read's end wakes the run.
func (r *TestRunReconciler) collectUnit(ctx context.Context, run *v1alpha1.TestRun, pod *corev1.Pod, byID map[string]*v1alpha1.TestCase, s settings) (time.Duration, error) {
	if r.Collect == nil {
		return 0, errors.New("no collector is configured for unit pods")
	}
	now := r.now()
	got, ok, wait := r.reads.take(ctx, run, pod, func(ctx context.Context, pod *corev1.Pod) collected {
		at, raw := collectOrLose(ctx, r.Collect, pod, 0, s, now)
		return collected{at, raw}
	})
	if !ok {
		return wait, nil
	}
	at, raw := got.at, got.raw
	var cases []plan.Case
	for _, id := range strings.Split(pod.Annotations[k8s.AnnotationCases], ",") {
		if tc := byID[id]; tc != nil {
			cases = append(cases, CaseOf(tc))
		}
	}
	if len(cases) == 0 {
		return 0, r.markCollected(ctx, pod)
	}
	settled := attempt.SettleUnit(at, cases, s.caseTimeout(byID[cases[0].ID]))
	if len(settled) == 0 {
		// Every pod settles at least one test, or a pod that always dies
		// would be created forever; the plan reads it so too.
		for _, c := range cases {
			settled[c.ID] = at
		}
	}
	var files []transport.File
	if at.ResultErr == nil {
		files, _ = transport.Decode(bytes.NewReader(raw))
	}
	unit, number := pod.Labels[k8s.LabelCase], podAttempt(pod)
	var (
		mu       sync.Mutex
		conflict bool
		recorded = map[string]*v1alpha1.TestCase{}
		g        errgroup.Group
	)
	// Each test's results and attempt are writes of their own; a unit's
	// tests are recorded side by side, so a shard of many tests frees its
	// slot in the time of a few writes, not of two writes per test.
	g.SetLimit(recordWorkers)
	for _, c := range cases {
		a, ok := settled[c.ID]
		if !ok || holds(byID[c.ID], pod.Name) {
			continue
		}
		tc := byID[c.ID].DeepCopy()
		g.Go(func() error {
			stale, err := r.recordUnitCase(ctx, run, pod, tc, c, a, files, unit, number, s)
			mu.Lock()
			defer mu.Unlock()
			if stale {
				conflict = true
			} else if err == nil {
				recorded[c.ID] = tc
			}
			return err
		})
	}
	err := g.Wait()
	maps.Copy(byID, recorded)
	if err != nil {
		return 0, err
	}
	if conflict {
		// A stale copy; the fresh one may already hold this attempt.
		return 100 * time.Millisecond, nil
	}
	logf.FromContext(ctx).V(1).Info("collected unit pod", "pod", pod.Name, "tests", len(cases), "settled", len(settled), "status", at.Outcome.Status, "reason", at.Outcome.Reason)
	if at.Outcome.Reason != "" {
		r.Recorder.Eventf(run, pod, corev1.EventTypeWarning, at.Outcome.Reason, "Collect", "pod %s of unit %s ended: %s; %d of its %d tests settled",
			pod.Name, unit, truncate(firstLine(at.Outcome.Message), 500), len(settled), len(cases))
	}
	return 0, r.markCollected(ctx, pod)
}

// recordWorkers is how many of a unit's tests are recorded at once.
const recordWorkers = 8

// recordUnitCase stores one test's share of a unit pod's results and
// records its attempt in tc, a copy of its TestCase; stale reports that tc
// was out of date (a conflict), so the attempt is left to a later pass.
func (r *TestRunReconciler) recordUnitCase(ctx context.Context, run *v1alpha1.TestRun, pod *corev1.Pod, tc *v1alpha1.TestCase, c plan.Case, a attempt.Attempt, files []transport.File, unit string, number int, s settings) (stale bool, err error) {
	n := lastRecorded(tc) + 1
	if files != nil {
		err := r.storeCaseResults(ctx, tc, n, caseFiles(files, c.TestID, a), int(run.Spec.ResultLimit))
		var tooLarge *TooLargeError
		switch {
		case errors.As(err, &tooLarge):
			a.ResultErr = err
		case err != nil:
			return false, fmt.Errorf("storing results of pod %s: %w", pod.Name, err)
		default:
			tc.Status.Results = ResultsName(tc.Name)
		}
	}
	a.Number = n
	rec := record(a)
	rec.Unit, rec.UnitAttempt = unit, int32(number)
	tc.Status.History = append(tc.Status.History, rec)
	st := plan.Next(plan.Spec{Cases: []plan.Case{c}, Parallelism: 1, MaxAttempts: int(tc.Spec.MaxAttempts), InfraRetries: s.infraRetries},
		observed(tc, nil, r.now(), s.observeOptions())).Cases[0]
	describe(&tc.Status, st, nil, nil)
	if err := r.Client.Status().Update(ctx, tc); err != nil {
		if kerrors.IsConflict(err) {
			return true, nil
		}
		return false, fmt.Errorf("recording attempt %d of testcase %s: %w", n, tc.Name, err)
	}
	attemptRecorded(r.Recorder, tc, pod, st, rec, s)
	return false, nil
}

// holds reports whether tc recorded an attempt made in the named pod.
func holds(tc *v1alpha1.TestCase, pod string) bool {
	for _, a := range tc.Status.History {
		if a.Pod == pod {
			return true
		}
	}
	return false
}

func (r *TestRunReconciler) markCollected(ctx context.Context, pod *corev1.Pod) error {
	patch := client.MergeFrom(pod.DeepCopy())
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[AnnotationCollected] = "true"
	if err := r.Client.Patch(ctx, pod, patch); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("marking pod %s collected: %w", pod.Name, err))
	}
	return nil
}

// storeCaseResults keeps one test's share of a unit pod's block beside its
// TestCase, as a block of its own, so the report reads it as it reads the
// block of a pod of one test.
func (r *TestRunReconciler) storeCaseResults(ctx context.Context, tc *v1alpha1.TestCase, attempt int, files []transport.File, limit int) error {
	var buf bytes.Buffer
	if err := transport.Encode(&buf, files, limit); err != nil {
		return err
	}
	cm, err := resultsConfigMap(tc, attempt, buf.Bytes())
	if err != nil {
		return err
	}
	return put(ctx, r.Client, r.APIReader, cm)
}

// caseFiles are the files of a unit pod's block that concern one test: its
// own stream entry when it finished (the session's output is the other
// tests' too), else the session's files; the pod's artifacts when
// SettleUnit gave them to the test. Coverage data is direct mode's.
func caseFiles(files []transport.File, testID string, a attempt.Attempt) []transport.File {
	finished := a.Results.Testcase != nil
	entries := layout.CasesDir + "/"
	artifacts := strings.TrimPrefix(layout.ArtifactsDir, layout.ResultsDir+"/") + "/"
	var out []transport.File
	own := false
	for _, f := range files {
		switch {
		case f.Name == entries+layout.CurrentFile || f.Name == entries+layout.TimedOutFile:
			out = append(out, f)
		case strings.HasPrefix(f.Name, entries):
			if !own && entryOf(f.Data) == testID {
				own = true
				out = append(out, f)
			}
		case strings.HasPrefix(f.Name, transport.CoverageDir+"/"):
		case strings.HasPrefix(f.Name, artifacts):
			if len(a.Results.Artifacts) > 0 {
				out = append(out, f)
			}
		case f.Name == layout.OutputFile:
			if !finished {
				out = append(out, f)
			}
		default:
			out = append(out, f)
		}
	}
	return out
}

// entryOf is the node id of a stream entry, "" when it names none.
func entryOf(data []byte) string {
	var e struct {
		NodeID string `json:"nodeid"`
	}
	if json.Unmarshal(data, &e) != nil {
		return ""
	}
	return e.NodeID
}

// casesOfUnitPod maps a unit's pod, which its run controls, to the
// TestCases of the tests it runs, whose phase follows the pod's.
func casesOfUnitPod(_ context.Context, obj client.Object) []reconcile.Request {
	ref := metav1.GetControllerOf(obj)
	run := obj.GetLabels()[k8s.LabelRun]
	ids := obj.GetAnnotations()[k8s.AnnotationCases]
	if ref == nil || ref.Kind != "TestRun" || ref.APIVersion != v1alpha1.GroupVersion.String() || run == "" || ids == "" {
		return nil
	}
	out := make([]reconcile.Request, 0, strings.Count(ids, ",")+1)
	for _, id := range strings.Split(ids, ",") {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: TestCaseName(run, id)}})
	}
	return out
}

// runningUnitPod is the pod of its run's unit that is running tc now, if
// any: one that lists the test, has not ended, and made no attempt of it.
func runningUnitPod(ctx context.Context, c client.Reader, tc *v1alpha1.TestCase, run *v1alpha1.TestRun, now time.Time, opts k8s.ObserveOptions) (*corev1.Pod, error) {
	if run.Spec.Shards <= 0 && (run.Spec.PodPer == "" || run.Spec.PodPer == plan.PerTest) {
		return nil, nil
	}
	list := &corev1.PodList{}
	if err := c.List(ctx, list, client.InNamespace(tc.Namespace), client.MatchingLabels{k8s.LabelRun: run.Name, k8s.LabelRole: "test"}); err != nil {
		return nil, fmt.Errorf("listing pods of run %s: %w", run.Name, err)
	}
	id := CaseOf(tc).ID
	for i := range list.Items {
		p := &list.Items[i]
		if !controlledBy(p, run.UID) || holds(tc, p.Name) || !slices.Contains(strings.Split(p.Annotations[k8s.AnnotationCases], ","), id) {
			continue
		}
		if !k8s.Observe(p, now, opts).Done {
			return p, nil
		}
	}
	return nil, nil
}
