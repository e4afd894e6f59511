package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// discoveryPoll re-reads a discovery pod that is not done, for the
// decisions that depend on time alone (a pod stuck pending).
const discoveryPoll = 5 * time.Second

// testCases returns the run's TestCases once they all exist. Before that it
// discovers the tests and creates the TestCases, recording the count in
// st; the discovery pod goes only once the status says the TestCases
// exist, so a restarted operator reads the same discovery again.
func (r *TestRunReconciler) testCases(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus, s settings) ([]*v1alpha1.TestCase, ctrl.Result, error) {
	bases := basesOf(run)
	if cond := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionDiscovered); cond != nil && cond.Status == metav1.ConditionTrue {
		for b := range bases {
			if err := r.deletePod(ctx, run.Namespace, DiscoveryPodNameOf(run.Name, b)); err != nil {
				return nil, ctrl.Result{}, err
			}
		}
		// Every pass of the run reads all its TestCases: copying 10,000 of
		// them each time was most of the operator's CPU and memory. The
		// cache's own objects are read only; what changes one changes a
		// DeepCopy.
		cases, err := Cases(ctx, r.Client, run, client.UnsafeDisableDeepCopy)
		if err != nil {
			return nil, ctrl.Result{}, err
		}
		if int32(len(cases)) < st.Total-st.CollectionSkipped && r.now().Sub(cond.LastTransitionTime.Time) < casesSettle {
			return nil, ctrl.Result{RequeueAfter: 500 * time.Millisecond}, nil
		}
		return cases, ctrl.Result{}, nil
	}
	found, res, wait, err := r.discoverAll(ctx, run, st, s, len(bases))
	if err != nil || wait {
		return nil, res, err
	}
	total, skippedTotal := 0, 0
	st.Bases = nil
	past := r.loadDurations(ctx, run)
	for b, f := range found {
		ids := unique(f.IDs)
		if err := r.createCases(ctx, run, b, ids, f, past, s); err != nil {
			return nil, ctrl.Result{}, err
		}
		if len(f.Skipped) > 0 {
			cm, err := collectionConfigMap(run, b, f.Skipped)
			if err != nil {
				r.fail(st, "DiscoveryFailed", "keeping what pytest's collection skipped: "+err.Error())
				return nil, ctrl.Result{}, nil
			}
			if err := put(ctx, r.Client, r.APIReader, cm); err != nil {
				return nil, ctrl.Result{}, err
			}
		}
		total += len(ids)
		skippedTotal += len(f.Skipped)
		if len(run.Spec.Bases) > 0 {
			st.Bases = append(st.Bases, v1alpha1.BaseStatus{Name: bases[b].Name, Python: f.Versions.Python, Pytest: f.Versions.Pytest,
				Total: int32(len(ids) + len(f.Skipped))})
		}
	}
	st.CollectionSkipped = int32(skippedTotal)
	st.Total = int32(total + skippedTotal)
	st.Phase = v1alpha1.RunRunning
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionDiscovered, Status: metav1.ConditionTrue, Reason: "TestCasesCreated",
		Message: fmt.Sprintf("%d tests", total),
	})
	r.Recorder.Eventf(run, nil, corev1.EventTypeNormal, "Discovered", "CreateTestCases", "%d tests", total)
	return nil, ctrl.Result{}, nil
}

// discoverAll returns what the discovery of each of the run's n bases
// found, or the tests the spec names. wait says the caller returns res and
// err now: a discovery is under way or failed.
func (r *TestRunReconciler) discoverAll(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus, s settings, n int) ([]discover.Collection, ctrl.Result, bool, error) {
	// Each base's discovery, all at once: the ids can differ by version.
	found := make([]discover.Collection, n)
	if len(run.Spec.Tests) == 0 {
		var (
			pending ctrl.Result
			waiting bool
		)
		for b := range n {
			f, res, err := r.discover(ctx, run, st, s, b)
			if err != nil || st.Phase == v1alpha1.RunError {
				return nil, res, true, err
			}
			if f.IDs == nil {
				pending, waiting = res, true
				continue
			}
			found[b] = f
		}
		if waiting {
			return nil, pending, true, nil
		}
		if !r.rerunOnly(run, st, found) {
			return nil, ctrl.Result{}, true, nil
		}
	} else {
		for b := range found {
			found[b].IDs = run.Spec.Tests
		}
	}
	return found, ctrl.Result{}, false, nil
}

// createCases creates the TestCases of base b, one for each of ids, with
// its faketime, lane and expected duration.
func (r *TestRunReconciler) createCases(ctx context.Context, run *v1alpha1.TestRun, b int, ids []string, f discover.Collection, past map[string]time.Duration, s settings) error {
	s.notAffected = notAffectedSet(run)
	// A pass that created the TestCases and then lost its status write (a
	// conflict) comes here again: what the cache shows is not created twice.
	existing, err := Cases(ctx, r.Client, run, client.UnsafeDisableDeepCopy)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(existing))
	for _, tc := range existing {
		have[tc.Name] = true
	}
	for i, id := range ids {
		if have[TestCaseName(run.Name, testid.BaseCaseID(id, b))] {
			continue
		}
		ft := run.Spec.Faketime
		if v, ok := f.Markers[id]; ok {
			ft = v
		}
		var expected *metav1.Duration
		if d, ok := past[id]; ok {
			expected = &metav1.Duration{Duration: d}
		}
		if err := r.createCase(ctx, run, i, b, id, ft, s.lane(f.Marks[id]), expected, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *TestRunReconciler) createCase(ctx context.Context, run *v1alpha1.TestRun, index, base int, id, faketime, lane string, expected *metav1.Duration, s settings) error {
	caseID := testid.BaseCaseID(id, base)
	tc := &v1alpha1.TestCase{
		ObjectMeta: metav1.ObjectMeta{
			Name:      TestCaseName(run.Name, caseID),
			Namespace: run.Namespace,
			Labels: map[string]string{
				k8s.LabelManagedBy: k8s.ManagedBy,
				k8s.LabelRun:       run.Name,
				k8s.LabelCase:      caseID,
			},
			Annotations:     map[string]string{k8s.AnnotationTestID: id},
			OwnerReferences: []metav1.OwnerReference{controllerRef(run, v1alpha1.GroupVersion.WithKind("TestRun"))},
		},
		Spec: v1alpha1.TestCaseSpec{
			TestRun: run.Name, TestID: id, Index: int32(index), Faketime: faketime,
			Lane: lane, MaxAttempts: int32(s.maxAttemptsOf(lane)),
			Timeout:          &metav1.Duration{Duration: s.timeoutOf(lane)},
			ExpectedDuration: expected,
			NotAffected:      notAffectedOf(run, s.notAffected, id, lane),
		},
	}
	if len(run.Spec.Bases) > 0 {
		tc.Spec.Base, tc.Spec.Image = int32(base), run.Spec.Bases[base].Image
	}
	err := r.Client.Create(ctx, tc)
	if err != nil && !kerrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating testcase for %s: %w", id, err)
	}
	return nil
}

// discover runs pytest --collect-only in a one-off pod and returns the test
// ids, and what the collection skipped, once it finished; nil ids with no
// error means not yet, or that the run failed (st says so).
func (r *TestRunReconciler) discover(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus, s settings, base int) (discover.Collection, ctrl.Result, error) {
	image := basesOf(run)[base].Image
	if found, ok := r.handedCollection(ctx, run, base); ok {
		return found, ctrl.Result{}, nil
	}
	pod := &corev1.Pod{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: DiscoveryPodNameOf(run.Name, base)}, pod)
	if kerrors.IsNotFound(err) {
		return discover.Collection{}, ctrl.Result{RequeueAfter: discoveryPoll}, r.startDiscovery(ctx, run, st, s, base)
	}
	if err != nil {
		return discover.Collection{}, ctrl.Result{}, fmt.Errorf("reading discovery pod: %w", err)
	}
	if !controlledBy(pod, run.UID) {
		// A pod of an earlier run of the same name is still going.
		return discover.Collection{}, ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	obs := k8s.Observe(pod, r.now(), k8s.ObserveOptions{PendingTimeout: s.pendingTimeout})
	if !obs.Done {
		return discover.Collection{}, ctrl.Result{RequeueAfter: discoveryPoll}, nil
	}
	out := obs.Outcome
	if out.Reason != "" && out.ExitCode < 0 {
		r.fail(st, "DiscoveryFailed", fmt.Sprintf("discovering tests: %s: %s", out.Reason, out.Message))
		return discover.Collection{}, ctrl.Result{}, nil
	}
	log, err := r.Logs(ctx, run.Namespace, pod.Name, k8s.TestContainer)
	if tooLarge := (*k8s.LogTooLargeError)(nil); errors.As(err, &tooLarge) {
		r.fail(st, "DiscoveryFailed", "discovering tests: "+err.Error())
		return discover.Collection{}, ctrl.Result{}, nil
	}
	if err != nil {
		return discover.Collection{}, ctrl.Result{}, fmt.Errorf("reading discovery log: %w", err)
	}
	found, err := discover.ParseLog(log, int(out.ExitCode))
	switch {
	case errors.Is(err, discover.ErrNoTests) && len(found.Skipped) > 0:
		r.fail(st, "NoTests", fmt.Sprintf("no tests to run in image %s (selection %q): pytest skipped every test module at collection (%s)", image, run.Spec.Selection, found.SkippedNames(3)))
		return discover.Collection{}, ctrl.Result{}, nil
	case errors.Is(err, discover.ErrNoTests):
		r.fail(st, "NoTests", fmt.Sprintf("no tests found in image %s (selection %q)", image, run.Spec.Selection))
		return discover.Collection{}, ctrl.Result{}, nil
	case err != nil:
		r.fail(st, "DiscoveryFailed", "discovering tests: "+err.Error())
		return discover.Collection{}, ctrl.Result{}, nil
	}
	if out.ExitCode == 0 {
		r.keepDiscoveryLog(ctx, run, base, log)
	}
	return found, ctrl.Result{}, nil
}

func (r *TestRunReconciler) startDiscovery(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus, s settings, base int) error {
	argv := DiscoveryCommand(run)
	tmpl, err := podTemplate(run)
	if err != nil {
		r.fail(st, "InvalidPodTemplate", err.Error())
		return nil
	}
	pod, err := k8s.OneOffPod(k8s.OneOffOptions{
		Namespace: run.Namespace, RunID: run.Name, Role: "discover" + baseSuffix(base),
		Image: basesOf(run)[base].Image, Command: argv, Timeout: s.timeout, Template: tmpl,
	})
	if err != nil {
		r.fail(st, "InvalidPodTemplate", err.Error())
		return nil
	}
	pod.OwnerReferences = []metav1.OwnerReference{controllerRef(run, v1alpha1.GroupVersion.WithKind("TestRun"))}
	if err := r.Client.Create(ctx, pod); err != nil && !kerrors.IsAlreadyExists(err) {
		return k8s.Explain("creating discovery pod", run.Namespace, err)
	}
	if st.Phase != v1alpha1.RunDiscovering {
		st.Phase = v1alpha1.RunDiscovering
		r.Recorder.Eventf(run, pod, corev1.EventTypeNormal, "Discovering", "CreatePod", "collecting tests in pod %s", pod.Name)
	}
	return nil
}

// DiscoveryCommand is the command of run's discovery pods: part of the
// key under which `run --mode operator` finds their log in its collection
// cache.
func DiscoveryCommand(run *v1alpha1.TestRun) []string {
	return discover.Command(layout.BinaryPath, run.Spec.Selection)
}

// unique keeps the first of repeated ids: one TestCase per test.
func unique(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
