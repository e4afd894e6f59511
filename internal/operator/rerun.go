package operator

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
)

// rerunMissingExamples is how many of the tests to rerun that no longer
// exist the RerunMissing event names.
const rerunMissingExamples = 3

// rerunOnly narrows what the discovery of each base found to the run's
// spec.rerunTests, keeping each test's markers, so a rerun test keeps its
// lane as in direct mode. The tests to rerun that no base has any more are
// named in an event; when none is left, the run fails (st says so) and
// rerunOnly returns false. A run without rerunTests keeps all it found.
func (r *TestRunReconciler) rerunOnly(run *v1alpha1.TestRun, st *v1alpha1.TestRunStatus, found []discover.Collection) bool {
	want := run.Spec.RerunTests
	if len(want) == 0 {
		return true
	}
	wanted := make(map[string]bool, len(want))
	for _, id := range want {
		wanted[id] = true
	}
	kept, left := map[string]bool{}, 0
	for b := range found {
		ids := make([]string, 0, min(len(want), len(found[b].IDs)))
		for _, id := range found[b].IDs {
			if wanted[id] {
				ids = append(ids, id)
				kept[id] = true
			}
		}
		found[b].IDs = ids
		left += len(ids)
	}
	var missing []string
	for _, id := range unique(want) {
		if !kept[id] {
			missing = append(missing, id)
		}
	}
	names := fewNames(missing, rerunMissingExamples)
	if left == 0 {
		r.fail(st, "NoTests", fmt.Sprintf("none of the %d tests to rerun exist in image %s (selection %q) any more: %s",
			len(missing), run.Spec.Image, run.Spec.Selection, names))
		return false
	}
	if len(missing) > 0 {
		r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, "RerunMissing", "Discover",
			"%d of the %d tests to rerun no longer exist (%s); running the other %d", len(missing), len(unique(want)), names, len(kept))
	}
	return true
}

// fewNames lists the first few of ids, each cut to 200 bytes.
func fewNames(ids []string, few int) string {
	names := make([]string, 0, few+1)
	for _, id := range ids[:min(len(ids), few)] {
		names = append(names, truncate(id, 200))
	}
	if len(ids) > few {
		names = append(names, "…")
	}
	return strings.Join(names, ", ")
}
