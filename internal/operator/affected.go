package operator

import (
	"context"
	"fmt"

	kerrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// notAffectedSet are the tests the run's spec.affectedSince leaves out,
// nil without it.
func notAffectedSet(run *v1alpha1.TestRun) map[string]bool {
	a := run.Spec.AffectedSince
	if a == nil || len(a.NotAffected) == 0 {
		return nil
	}
	set := make(map[string]bool, len(a.NotAffected))
	for _, id := range a.NotAffected {
		set[id] = true
	}
	return set
}

// notAffectedOf is the commit a discovered test last passed at when the
// run's affectedSince leaves it out, else "": a test of a lane that opts
// out (disruptive, flaky) runs all the same, as in direct mode, since the
// run that computed the list had not discovered the lanes yet.
func notAffectedOf(run *v1alpha1.TestRun, set map[string]bool, id, lane string) string {
	if !set[id] || history.AlwaysRuns(lane) {
		return ""
	}
	return run.Spec.AffectedSince.Commit
}

// splitNotAffected sets apart the TestCases that run in no pod.
func splitNotAffected(cases []*v1alpha1.TestCase) (run []*v1alpha1.TestCase, notAffected int) {
	run = cases[:0:0]
	for _, tc := range cases {
		if tc.Spec.NotAffected != "" {
			notAffected++
			continue
		}
		run = append(run, tc)
	}
	return run, notAffected
}

// since is the base of the run's affectedSince.
func since(run *v1alpha1.TestRun, tc *v1alpha1.TestCase) string {
	if a := run.Spec.AffectedSince; a != nil {
		return a.Commit
	}
	return tc.Spec.NotAffected
}

// settleNotAffected ends a TestCase that the run's affectedSince left out
// Skipped, with direct mode's message; it runs in no pod.
func (r *TestCaseReconciler) settleNotAffected(ctx context.Context, tc *v1alpha1.TestCase, run *v1alpha1.TestRun) error {
	if tc.Status.Phase == v1alpha1.CaseSkipped {
		return nil
	}
	tc = tc.DeepCopy()
	tc.Status.Phase = v1alpha1.CaseSkipped
	tc.Status.Message = history.SkipMessage(since(run, tc), tc.Spec.NotAffected)
	if err := r.Client.Status().Update(ctx, tc); err != nil && !kerrors.IsConflict(err) {
		return fmt.Errorf("marking testcase %s not affected: %w", tc.Name, err)
	}
	return nil
}

// notAffectedResult is the report of a TestCase the run's affectedSince
// left out, as direct mode reports it.
func notAffectedResult(run *v1alpha1.TestRun, tc *v1alpha1.TestCase) report.CaseResult {
	return history.NotAffectedResult(CaseOf(tc), since(run, tc), tc.Spec.NotAffected)
}
