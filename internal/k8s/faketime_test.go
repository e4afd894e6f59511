package k8s

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/faketime"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// containers returns the test container and the collector, wherever the
// collector runs.
func containers(t *testing.T, pod *corev1.Pod) (test, collector corev1.Container) {
	t.Helper()
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	var found int
	for _, c := range all {
		switch c.Name {
		case TestContainer:
			test = c
			found++
		case CollectorContainer:
			collector = c
			found++
		}
	}
	require.Equal(t, 2, found)
	return test, collector
}

func TestTestPodFaketimeOnlyInTheTestContainer(t *testing.T) {
	c := sampleCase
	c.Faketime = "2031-06-01 12:00:00"
	tmpl, err := ParseTemplate([]byte("containers:\n- name: test\n  env:\n  - {name: TZ, value: UTC}\n"))
	require.NoError(t, err)
	for _, native := range []bool{true, false} {
		pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: c, Attempt: 1, Image: "img", NativeSidecar: native, Template: tmpl})
		require.NoError(t, err)
		test, collector := containers(t, pod)
		env := envOf(test)
		assert.Equal(t, faketime.DebianLibrary, env["LD_PRELOAD"], "native=%v", native)
		assert.Equal(t, "2031-06-01 12:00:00", env["FAKETIME"])
		assert.Equal(t, "1", env["FAKETIME_DONT_FAKE_MONOTONIC"])
		assert.Equal(t, "UTC", env["TZ"], "the template's env stays")
		for _, e := range collector.Env {
			assert.NotContains(t, e.Name, "FAKETIME", "the collector's clock stays real")
			assert.NotEqual(t, "LD_PRELOAD", e.Name)
		}
	}
}

func TestTestPodFaketimeLibraryFromTheImage(t *testing.T) {
	c := sampleCase
	c.Faketime = "+3d"
	lib := "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: c, Attempt: 1, Image: "img", FaketimeLibrary: lib})
	require.NoError(t, err)
	test, _ := containers(t, pod)
	assert.Equal(t, lib, envOf(test)["LD_PRELOAD"])
}

func TestTestPodWithoutFaketimePreloadsNothing(t *testing.T) {
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", FaketimeLibrary: "/x.so"})
	require.NoError(t, err)
	test, _ := containers(t, pod)
	env := envOf(test)
	assert.NotContains(t, env, "LD_PRELOAD")
	assert.NotContains(t, env, "FAKETIME")
}

func TestGroupPodFaketime(t *testing.T) {
	cases := []plan.Case{
		{ID: "c1", TestID: "a.py::t1", Faketime: "-2h"},
		{ID: "c2", TestID: "a.py::t2", Faketime: "-2h"},
	}
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Unit: "u1", Cases: cases, Attempt: 1, Image: "img"})
	require.NoError(t, err)
	test, _ := containers(t, pod)
	assert.Equal(t, "-2h", envOf(test)["FAKETIME"])

	cases[1].Faketime = ""
	_, err = TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Unit: "u1", Cases: cases, Attempt: 1, Image: "img"})
	require.Error(t, err, "a pod never mixes faketime values")
	assert.Contains(t, err.Error(), "different faketime values")
}
