package operator

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// stopped reports a run that reached its MaxFailures, as its stored status
// says: every reconciler then evaluates its tests as stopped.
func stopped(run *v1alpha1.TestRun) bool {
	return meta.IsStatusConditionTrue(run.Status.Conditions, v1alpha1.ConditionStopped)
}

// stop carries out a stop the run's decision reached. The Stopped
// condition is stored first, and only then are the running pods deleted:
// a TestCase reconciler that sees a pod of a stopped run deleted leaves it
// uncollected, where it would otherwise record the kill as the test's
// error. Once every test is final, those that never started are marked
// NotRun, as their own reconcilers, which no pod wakes, would not.
// A positive wait asks to come back once the condition is stored.
func (r *TestRunReconciler) stop(ctx context.Context, run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus, d plan.Decision, obs []plan.Pod, byID map[string]*v1alpha1.TestCase) (time.Duration, error) {
	if !stopped(run) {
		msg := fmt.Sprintf("%d tests failed or errored (maxFailures %d): no further test starts", failedCases(d), run.Spec.MaxFailures)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: v1alpha1.ConditionStopped, Status: metav1.ConditionTrue, Reason: "MaxFailures", Message: msg,
		})
		r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, "Stopped", "Stop", "%s", msg)
		if !d.Done {
			return 100 * time.Millisecond, nil
		}
	}
	running := map[string]bool{}
	for _, o := range obs {
		if !o.Done {
			running[o.Name] = true
		}
	}
	for _, a := range d.Actions {
		if a.Kind == plan.Delete && running[a.Pod] {
			if err := r.deletePod(ctx, run.Namespace, a.Pod); err != nil {
				return 0, err
			}
		}
	}
	if !d.Done {
		return 0, nil
	}
	for _, cs := range d.Cases {
		tc := byID[cs.Case.ID]
		if !cs.Stopped || len(cs.Attempts) > 0 || tc == nil || tc.Status.Phase == v1alpha1.CaseNotRun {
			continue
		}
		tc = tc.DeepCopy()
		tc.Status.Phase = v1alpha1.CaseNotRun
		if err := r.Client.Status().Update(ctx, tc); err != nil {
			return 0, fmt.Errorf("marking testcase %s not run: %w", tc.Name, err)
		}
	}
	return 0, nil
}

func failedCases(d plan.Decision) int {
	n := 0
	for _, cs := range d.Cases {
		if cs.Final && !cs.Stopped && (cs.Status() == plan.Failed || cs.Status() == plan.Error) {
			n++
		}
	}
	return n
}
