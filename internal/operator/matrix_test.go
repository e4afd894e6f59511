package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

func testImage(p corev1.Pod) string {
	for _, c := range p.Spec.Containers {
		if c.Name == k8s.TestContainer {
			return c.Image
		}
	}
	return ""
}

// A TestRun with bases discovers in each base's image, runs every test in
// each, and reports a testsuite per base.
func TestRunMatrixRunsEveryTestOnEveryBase(t *testing.T) {
	bases := []v1alpha1.MatrixBase{{Name: "py:3.11", Image: "reg/t@sha256:a"}, {Name: "py:3.13", Image: "reg/t@sha256:b"}}
	e := newEnv(t, testRun("r1", func(r *v1alpha1.TestRun) { r.Spec.Image, r.Spec.Bases = bases[0].Image, bases }))
	e.reconcileRun("r1")
	discovery := map[string]string{}
	for _, p := range e.pods() {
		discovery[p.Name] = testImage(p)
	}
	assert.Equal(t, map[string]string{DiscoveryPodNameOf("r1", 0): bases[0].Image, DiscoveryPodNameOf("r1", 1): bases[1].Image}, discovery,
		"a discovery pod in each base's image")

	e.discovery = discoveryLog(t, "tests/test_a.py::test_one\n\n"+`k8s-testrun-versions {"python": "3.13.5", "pytest": "8.3.5"}`+"\n1 test collected in 0.01s\n", noSkips)
	e.finish(DiscoveryPodNameOf("r1", 0), 0, false)
	e.reconcileRun("r1")
	assert.Empty(t, e.testCases("r1"), "no TestCase before every base is discovered")
	e.finish(DiscoveryPodNameOf("r1", 1), 0, false)
	e.reconcileRun("r1")
	cases := e.testCases("r1")
	require.Len(t, cases, 2, "the test once per base")
	for _, tc := range cases {
		assert.Equal(t, bases[tc.Spec.Base].Image, tc.Spec.Image)
	}

	e.reconcileRun("r1")
	e.reconcileRun("r1")
	id := "tests/test_a.py::test_one"
	for b := range bases {
		pod := &corev1.Pod{}
		name := k8s.PodName("r1", testid.BaseCaseID(id, b), 1)
		require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pod), "the pod of base %d", b)
		assert.Equal(t, bases[b].Image, testImage(*pod))
		e.finish(name, int32(b), false) // passes on the first base, fails on the second
	}
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	run := e.run("r1")
	require.Equal(t, v1alpha1.RunFailed, run.Status.Phase, run.Status.Message)
	assert.Equal(t, []int32{2, 1, 1}, []int32{run.Status.Total, run.Status.Passed, run.Status.Failed})
	require.Len(t, run.Status.Bases, 2)
	assert.Equal(t, v1alpha1.BaseStatus{Name: "py:3.13", Python: "3.13.5", Pytest: "8.3.5", Total: 1}, run.Status.Bases[1])

	rep, err := LoadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	suites := rep.JUnit().Suites
	require.Len(t, suites, 2)
	assert.Equal(t, "py:3.11 (Python 3.13.5, pytest 8.3.5)", suites[0].Name)
	require.Len(t, suites[1].Testcases, 1)
	assert.Nil(t, suites[0].Testcases[0].Failure)
	assert.NotNil(t, suites[1].Testcases[0].Failure, "the failure is the second base's")
}

// Grouped, each base's tests share pods of their own base's image only.
func TestRunMatrixGroupsEachBaseApart(t *testing.T) {
	bases := []v1alpha1.MatrixBase{{Name: "py:3.11", Image: "reg/t@sha256:a"}, {Name: "py:3.13", Image: "reg/t@sha256:b"}}
	e := newEnv(t, testRun("r1", func(r *v1alpha1.TestRun) {
		r.Spec.Image, r.Spec.Bases, r.Spec.PodPer = bases[0].Image, bases, "file"
	}))
	e.reconcileRun("r1")
	e.discovery = discoveryLog(t, "tests/test_a.py::test_one\ntests/test_a.py::test_two\n\n2 tests collected in 0.01s\n", noSkips)
	for b := range bases {
		e.finish(DiscoveryPodNameOf("r1", b), 0, false)
	}
	e.reconcileRun("r1")
	require.Len(t, e.testCases("r1"), 4)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	images := map[string]int{}
	for _, p := range e.pods() {
		images[testImage(p)]++
	}
	assert.Equal(t, map[string]int{bases[0].Image: 1, bases[1].Image: 1}, images, "one pod for the file on each base, in its base's image")
}
