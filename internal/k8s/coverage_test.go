package k8s

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func coverageEnv(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// TestTestPodWithCoverage: pytest runs under coverage.py in parallel mode,
// its data files in the results the collector ships, in a pod of one test
// and in a unit's pod; without coverage nothing changes.
func TestTestPodWithCoverage(t *testing.T) {
	underCoverage := []string{"python", "-m", "coverage", "run", "--parallel-mode", "--include=/workspace/*", "-m", "pytest"}

	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", Coverage: true, PytestArgs: []string{"-x"}})
	require.NoError(t, err)
	test := pod.Spec.Containers[0]
	assert.Equal(t, append([]string{layout.BinaryPath, "shim", "--results", layout.ResultsDir, "--"}, append(underCoverage, sampleCase.TestID)...), test.Command[:14])
	assert.Equal(t, "-x", test.Command[len(test.Command)-1])
	v, ok := coverageEnv(test, "COVERAGE_FILE")
	require.True(t, ok)
	assert.Equal(t, layout.ResultsDir+"/.coverage", v)
	_, ok = coverageEnv(pod.Spec.Containers[1], "COVERAGE_FILE")
	assert.False(t, ok, "the collector runs no coverage")

	cases := []plan.Case{{ID: "c1", TestID: "t.py::a"}, {ID: "c2", TestID: "t.py::b"}}
	pod, err = TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Unit: "u", Cases: cases, Attempt: 1, Image: "img", Coverage: true})
	require.NoError(t, err)
	test = pod.Spec.Containers[0]
	assert.Equal(t, append([]string{layout.BinaryPath, "shim", "--results", layout.ResultsDir, "--stream", "--"}, append(underCoverage, "t.py::a", "t.py::b")...), test.Command[:16])
	_, ok = coverageEnv(test, "COVERAGE_FILE")
	assert.True(t, ok)

	pod, err = TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img"})
	require.NoError(t, err)
	assert.NotContains(t, pod.Spec.Containers[0].Command, "coverage")
	_, ok = coverageEnv(pod.Spec.Containers[0], "COVERAGE_FILE")
	assert.False(t, ok)
}
