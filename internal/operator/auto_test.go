package operator

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// TestRunPodPerAuto: with no history a run of podPer auto groups by file;
// with a history where one test took 30 s, that test gets a pod of its own
// and the other two share one.
func TestRunPodPerAuto(t *testing.T) {
	cases := func(pods []corev1.Pod) []string {
		var out []string
		for _, p := range pods {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "TestCase" {
				out = append(out, p.Name)
				continue
			}
			out = append(out, p.Annotations[k8s.AnnotationCases])
		}
		return out
	}
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping(plan.PerAuto, 0), func(r *v1alpha1.TestRun) { r.Spec.Parallelism = 2 }))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	assert.ElementsMatch(t, []string{
		testid.CaseID(sampleIDs[0]) + "," + testid.CaseID(sampleIDs[1]),
		testid.CaseID(sampleIDs[2]),
	}, cases(e.runPods("r1")), "no history: one pod per file")

	history := `{"version": 1, "tests": {"tests/test_a.py::test_one": 1, "tests/test_a.py::test_two": 2, "tests/test_b.py::test_three": 30}}`
	e = newEnv(t, durationsConfigMap(history), testRun("r2", withTests(sampleIDs...), withDurations("sample-durations"),
		withGrouping(plan.PerAuto, 0), func(r *v1alpha1.TestRun) { r.Spec.Parallelism = 2 }))
	e.reconcileRun("r2")
	e.reconcileRun("r2")
	pods := e.pods()
	require.Len(t, pods, 2)
	assert.ElementsMatch(t, []string{
		k8s.PodName("r2", testid.CaseID(sampleIDs[2]), 1),
		testid.CaseID(sampleIDs[0]) + "," + testid.CaseID(sampleIDs[1]),
	}, cases(pods), "the 30-second test alone, the rest packed")
}
