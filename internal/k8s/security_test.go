package k8s

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// allContainers lists a pod's init and regular containers.
func allContainers(pod *corev1.Pod) []corev1.Container {
	return append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
}

// requireDefaults checks the security defaults on every container of pod.
func requireDefaults(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	require.NotNil(t, pod.Spec.SecurityContext, "pod securityContext")
	require.NotNil(t, pod.Spec.SecurityContext.SeccompProfile, "pod seccompProfile")
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.Spec.SecurityContext.SeccompProfile.Type)
	for _, c := range allContainers(pod) {
		require.NotNil(t, c.SecurityContext, "securityContext of container %s", c.Name)
		assert.Equal(t, ptr.To(false), c.SecurityContext.AllowPrivilegeEscalation, "allowPrivilegeEscalation of container %s", c.Name)
		require.NotNil(t, c.SecurityContext.Capabilities, "capabilities of container %s", c.Name)
		assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop, "capabilities dropped in container %s", c.Name)
		assert.Empty(t, c.SecurityContext.Capabilities.Add, "capabilities added in container %s", c.Name)
	}
}

func resultsSizeLimit(t *testing.T, pod *corev1.Pod) *resource.Quantity {
	t.Helper()
	for _, v := range pod.Spec.Volumes {
		if v.Name == "results" {
			require.NotNil(t, v.EmptyDir)
			return v.EmptyDir.SizeLimit
		}
	}
	t.Fatal("no results volume")
	return nil
}

func TestPodsAreSecureByDefault(t *testing.T) {
	services, err := ParseTemplate([]byte(`
containers:
  - name: web
    image: web
    readinessProbe: {tcpSocket: {port: 8000}}
  - name: test
    env: [{name: A, value: b}]
`))
	require.NoError(t, err)
	oneGi := resource.MustParse("1Gi")
	pods := map[string]TestPodOptions{
		"native sidecar":   {Case: sampleCase, NativeSidecar: true},
		"regular sidecar":  {Case: sampleCase},
		"unit":             {Unit: "u1", Cases: []plan.Case{{ID: "c1", TestID: "t.py::a"}, {ID: "c2", TestID: "t.py::b"}}},
		"native services":  {Case: sampleCase, NativeSidecar: true, Template: services},
		"regular services": {Case: sampleCase, Template: services},
	}
	for name, o := range pods {
		t.Run(name, func(t *testing.T) {
			o.Namespace, o.RunID, o.Attempt, o.Image = "ns", "r", 1, "img"
			pod, err := TestPod(o)
			require.NoError(t, err)
			requireDefaults(t, pod)
			limit := resultsSizeLimit(t, pod)
			require.NotNil(t, limit, "results emptyDir sizeLimit")
			assert.Zero(t, oneGi.Cmp(*limit), "sizeLimit %s", limit)
		})
	}
	for _, tmpl := range []*corev1.PodTemplateSpec{nil, services} {
		one, err := OneOffPod(OneOffOptions{Namespace: "ns", RunID: "r", Role: "discover", Image: "img", Command: []string{"true"}, Template: tmpl})
		require.NoError(t, err)
		requireDefaults(t, one)
	}
}

func TestTemplateRelaxesSecurityDefaults(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(`
securityContext:
  runAsUser: 1000
  seccompProfile: {type: Unconfined}
volumes:
  - name: results
    emptyDir: {sizeLimit: 5Gi}
containers:
  - name: test
    securityContext:
      allowPrivilegeEscalation: true
      capabilities: {add: [NET_ADMIN]}
  - name: docker
    image: docker:dind
    securityContext: {privileged: true}
  - name: db
    image: postgres
    securityContext:
      capabilities: {}
`))
	require.NoError(t, err)
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", Template: tmpl})
	require.NoError(t, err)

	assert.Equal(t, corev1.SeccompProfileTypeUnconfined, pod.Spec.SecurityContext.SeccompProfile.Type)
	assert.Equal(t, ptr.To(int64(1000)), pod.Spec.SecurityContext.RunAsUser)
	limit := resultsSizeLimit(t, pod)
	require.NotNil(t, limit)
	assert.Equal(t, "5Gi", limit.String())

	byName := map[string]corev1.Container{}
	for _, c := range allContainers(pod) {
		byName[c.Name] = c
	}
	test := byName[TestContainer].SecurityContext
	assert.Equal(t, ptr.To(true), test.AllowPrivilegeEscalation)
	assert.Equal(t, &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}, test.Capabilities, "a template's capabilities replace the drop")

	docker := byName["docker"].SecurityContext
	assert.Equal(t, ptr.To(true), docker.Privileged)
	assert.Nil(t, docker.AllowPrivilegeEscalation, "the API server refuses allowPrivilegeEscalation false beside privileged")
	assert.Nil(t, docker.Capabilities)

	db := byName["db"].SecurityContext
	assert.Equal(t, &corev1.Capabilities{}, db.Capabilities, "capabilities: {} keeps the runtime's default set")
	assert.Equal(t, ptr.To(false), db.AllowPrivilegeEscalation, "fields the template leaves unset keep their default")

	collector := byName[CollectorContainer].SecurityContext
	assert.Equal(t, ptr.To(false), collector.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, collector.Capabilities.Drop)
}

func TestTemplateAddingSysAdminKeepsEscalationUnset(t *testing.T) {
	tmpl, err := ParseTemplate([]byte("containers: [{name: test, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]\n"))
	require.NoError(t, err)
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", Template: tmpl})
	require.NoError(t, err)
	for _, c := range pod.Spec.Containers {
		if c.Name == TestContainer {
			assert.Nil(t, c.SecurityContext.AllowPrivilegeEscalation)
		}
	}
}

// TestRestrictedTemplate is the template of docs/security.md for the restricted Pod
// Security Standard: with the defaults, every field it checks is set.
func TestRestrictedTemplate(t *testing.T) {
	tmpl, err := ParseTemplate([]byte("securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"))
	require.NoError(t, err)
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", NativeSidecar: true, Template: tmpl})
	require.NoError(t, err)
	requireDefaults(t, pod)
	assert.Equal(t, ptr.To(true), pod.Spec.SecurityContext.RunAsNonRoot)
	assert.Equal(t, ptr.To(int64(1000)), pod.Spec.SecurityContext.RunAsUser)
}
