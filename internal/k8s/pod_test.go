package k8s

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

var sampleCase = plan.Case{ID: "0123456789ab", TestID: "tests/test_a.py::test_x[a b]"}

func TestTestPodNativeSidecar(t *testing.T) {
	pod, err := TestPod(TestPodOptions{
		Namespace: "ns", RunID: "run1", Case: sampleCase, Attempt: 2,
		Image: "reg/img@sha256:abc", Timeout: 90 * time.Second, NativeSidecar: true, ResultLimit: 4096,
	})
	require.NoError(t, err)

	assert.Equal(t, "ktr-run1-0123456789ab-2", pod.Name)
	assert.Equal(t, map[string]string{
		LabelManagedBy: ManagedBy, LabelRun: "run1", LabelCase: "0123456789ab", LabelAttempt: "2", LabelRole: "test",
	}, pod.Labels)
	assert.Equal(t, sampleCase.TestID, pod.Annotations[AnnotationTestID])
	assert.Equal(t, corev1.RestartPolicyNever, pod.Spec.RestartPolicy)
	require.NotNil(t, pod.Spec.ActiveDeadlineSeconds)
	assert.EqualValues(t, 90, *pod.Spec.ActiveDeadlineSeconds)

	require.Len(t, pod.Spec.Containers, 1)
	test := pod.Spec.Containers[0]
	assert.Equal(t, TestContainer, test.Name)
	assert.Equal(t, []string{layout.BinaryPath, "shim", "--results", layout.ResultsDir, "--", "python", "-m", "pytest", sampleCase.TestID}, test.Command[:9])
	assert.Contains(t, test.Command, "junit_family=xunit1")

	require.Len(t, pod.Spec.InitContainers, 1)
	collector := pod.Spec.InitContainers[0]
	assert.Equal(t, CollectorContainer, collector.Name)
	require.NotNil(t, collector.RestartPolicy)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *collector.RestartPolicy)
	assert.Contains(t, collector.Command, "--hold")
	assert.Contains(t, collector.Command, "4096")
	assert.Equal(t, test.VolumeMounts, collector.VolumeMounts)
	require.Len(t, pod.Spec.Volumes, 1)
	assert.NotNil(t, pod.Spec.Volumes[0].EmptyDir)
}

func TestTestPodFallbackSidecar(t *testing.T) {
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img"})
	require.NoError(t, err)
	assert.Empty(t, pod.Spec.InitContainers)
	require.Len(t, pod.Spec.Containers, 2)
	assert.Equal(t, CollectorContainer, pod.Spec.Containers[1].Name)
	assert.NotContains(t, pod.Spec.Containers[1].Command, "--hold")
	assert.Nil(t, pod.Spec.ActiveDeadlineSeconds)
}

func TestTemplateMerge(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(`
metadata:
  labels: {team: data, k8s-testrun.io/run: spoofed}
spec:
  nodeSelector: {pool: tests}
  serviceAccountName: runner
  tolerations: [{key: dedicated, operator: Exists}]
  containers:
    - name: test
      env: [{name: DB_URL, value: "postgres://db"}]
      resources:
        limits: {memory: 128Mi}
`))
	require.NoError(t, err)
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", NativeSidecar: true, Template: tmpl})
	require.NoError(t, err)

	assert.Equal(t, "data", pod.Labels["team"])
	assert.Equal(t, "r", pod.Labels[LabelRun], "the run label cannot be overridden")
	assert.Equal(t, map[string]string{"pool": "tests"}, pod.Spec.NodeSelector)
	assert.Equal(t, "runner", pod.Spec.ServiceAccountName)
	require.Len(t, pod.Spec.Tolerations, 1)
	require.Len(t, pod.Spec.Containers, 1)
	test := pod.Spec.Containers[0]
	assert.Equal(t, "img", test.Image)
	assert.Equal(t, layout.BinaryPath, test.Command[0])
	assert.Equal(t, resource.MustParse("128Mi"), test.Resources.Limits[corev1.ResourceMemory])
	names := []string{}
	for _, e := range test.Env {
		names = append(names, e.Name)
	}
	assert.ElementsMatch(t, []string{"DB_URL", layout.ArtifactsEnv}, names)
	assert.Equal(t, corev1.RestartPolicyNever, pod.Spec.RestartPolicy)
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "spec:\n  nodeSelectr: {a: b}\n", "nodeSelectr"},
		{"not yaml", "spec: [", "pod template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate([]byte(tt.yaml))
			if err == nil {
				_, err = TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", Template: tmpl})
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestBarePodSpecTemplate(t *testing.T) {
	tmpl, err := ParseTemplate([]byte("nodeSelector: {disk: ssd}\n"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"disk": "ssd"}, tmpl.Spec.NodeSelector)

	empty, err := ParseTemplate([]byte("  \n"))
	require.NoError(t, err)
	assert.Nil(t, empty)
}

func TestTestPodOfAUnit(t *testing.T) {
	cases := []plan.Case{{ID: "c1", TestID: "t.py::a"}, {ID: "c2", TestID: "t.py::b"}, {ID: "c3", TestID: "t.py::C::c[1]"}}
	pod, err := TestPod(TestPodOptions{
		Namespace: "ns", RunID: "run1", Unit: "u1", Cases: cases, Attempt: 2,
		Image: "img", Timeout: 30 * time.Second, ResultLimit: 4096, PytestArgs: []string{"-x"},
	})
	require.NoError(t, err)
	assert.Equal(t, "ktr-run1-u1-2", pod.Name)
	assert.Equal(t, "u1", pod.Labels[LabelCase])
	assert.Equal(t, "c1,c2,c3", pod.Annotations[AnnotationCases])
	require.NotNil(t, pod.Spec.ActiveDeadlineSeconds)
	assert.EqualValues(t, 90, *pod.Spec.ActiveDeadlineSeconds, "the sum of the tests' timeouts")

	test := pod.Spec.Containers[0]
	assert.Equal(t, []string{layout.BinaryPath, "shim", "--results", layout.ResultsDir, "--stream", "--test-timeout", "30s", "--",
		"python", "-m", "pytest", "t.py::a", "t.py::b", "t.py::C::c[1]"}, test.Command[:14])
	assert.Contains(t, test.Command, "--junitxml="+GroupJUnitPath)
	assert.Contains(t, test.Command, layout.StreamPlugin)
	assert.Equal(t, "-x", test.Command[len(test.Command)-1], "the user's pytest arguments come last")
	collector := pod.Spec.Containers[1]
	assert.Contains(t, collector.Command, "12288", "the block grows with the unit's cases")

	obs := Observe(pod, time.Now(), ObserveOptions{})
	assert.Equal(t, "u1", obs.CaseID)
	assert.Equal(t, []string{"c1", "c2", "c3"}, obs.Cases)
	assert.Equal(t, 2, obs.Attempt)
}

func TestServiceAccountTokenNotMountedByDefault(t *testing.T) {
	tests := []struct {
		name, template string
		want           *bool
	}{
		{"no template", "", ptr.To(false)},
		{"template without a ServiceAccount", "nodeSelector: {disk: ssd}\n", ptr.To(false)},
		{"template names a ServiceAccount", "serviceAccountName: tests\n", nil},
		{"template mounts the token", "automountServiceAccountToken: true\n", ptr.To(true)},
		{"template turns the mount off", "serviceAccountName: tests\nautomountServiceAccountToken: false\n", ptr.To(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate([]byte(tt.template))
			require.NoError(t, err)
			pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", Template: tmpl})
			require.NoError(t, err)
			assert.Equal(t, tt.want, pod.Spec.AutomountServiceAccountToken, "test pod")
			one, err := OneOffPod(OneOffOptions{Namespace: "ns", RunID: "r", Role: "discover", Image: "img", Command: []string{"true"}, Template: tmpl})
			require.NoError(t, err)
			assert.Equal(t, tt.want, one.Spec.AutomountServiceAccountToken, "discovery pod")
		})
	}
}
