package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/faketime"
)

func testEnv(p corev1.Pod) map[string]string {
	m := map[string]string{}
	for _, c := range p.Spec.Containers {
		if c.Name != "test" {
			continue
		}
		for _, e := range c.Env {
			m[e.Name] = e.Value
		}
	}
	return m
}

func TestRunFaketimeFromSpecAndMarkers(t *testing.T) {
	e := newEnv(t, testRun("r1", func(r *v1alpha1.TestRun) { r.Spec.Faketime = "+3d" }))
	e.reconcileRun("r1")
	pod := &corev1.Pod{}
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: DiscoveryPodName("r1")}, pod))
	assert.Contains(t, pod.Spec.Containers[0].Command, "--k8s-testrun-list-markers", "discovery lists the markers")
	assert.NotContains(t, testEnv(*pod), "FAKETIME", "discovery runs on the real clock")

	e.discovery = discoveryLog(t, "tests/test_a.py::test_run\ntests/test_a.py::test_marked\n\n"+
		`k8s-testrun-marker {"nodeid": "tests/test_a.py::test_marked", "faketime": "2031-06-01 12:00:00"}`+"\n"+
		"2 tests collected in 0.01s\n", noSkips)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")
	require.Len(t, e.testCases("r1"), 2)
	assert.Equal(t, "+3d", e.testCase("r1", "tests/test_a.py::test_run").Spec.Faketime, "the run's")
	assert.Equal(t, "2031-06-01 12:00:00", e.testCase("r1", "tests/test_a.py::test_marked").Spec.Faketime, "the marker's")

	e.reconcileRun("r1")
	pods := e.pods()
	require.Len(t, pods, 2)
	byTest := map[string]map[string]string{}
	for _, p := range pods {
		byTest[p.Annotations["k8s-testrun.io/test-id"]] = testEnv(p)
		for _, c := range p.Spec.InitContainers {
			for _, env := range c.Env {
				assert.NotEqual(t, "FAKETIME", env.Name, "not in the collector")
			}
		}
	}
	assert.Equal(t, "+3d", byTest["tests/test_a.py::test_run"]["FAKETIME"])
	assert.Equal(t, "2031-06-01 12:00:00", byTest["tests/test_a.py::test_marked"]["FAKETIME"])
	assert.Equal(t, faketime.DebianLibrary, byTest["tests/test_a.py::test_marked"]["LD_PRELOAD"])
}

func TestRunWithMalformedFaketimeFails(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), func(r *v1alpha1.TestRun) { r.Spec.Faketime = "+3w" }))
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, `spec.faketime "+3w"`)
	assert.Empty(t, e.testCases("r1"))
	assert.Empty(t, e.pods())
}

func TestRunWithMalformedMarkerFails(t *testing.T) {
	e := newEnv(t, testRun("r1"))
	e.reconcileRun("r1")
	e.discovery = discoveryLog(t, "tests/test_a.py::test_bad\n\n"+
		`k8s-testrun-marker {"nodeid": "tests/test_a.py::test_bad", "faketime": "soon"}`+"\n"+
		"1 test collected in 0.01s\n", noSkips)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, "tests/test_a.py::test_bad")
	assert.Empty(t, e.testCases("r1"))
}
