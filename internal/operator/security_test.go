package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// requireSecure checks the security defaults k8s.TestPod and k8s.OneOffPod
// give every pod, on a pod the operator created.
func requireSecure(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	require.NotNil(t, pod.Spec.SecurityContext, "pod %s", pod.Name)
	require.NotNil(t, pod.Spec.SecurityContext.SeccompProfile, "pod %s", pod.Name)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.Spec.SecurityContext.SeccompProfile.Type, "pod %s", pod.Name)
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		require.NotNil(t, c.SecurityContext, "pod %s container %s", pod.Name, c.Name)
		assert.Equal(t, ptr.To(false), c.SecurityContext.AllowPrivilegeEscalation, "pod %s container %s", pod.Name, c.Name)
		require.NotNil(t, c.SecurityContext.Capabilities, "pod %s container %s", pod.Name, c.Name)
		assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop, "pod %s container %s", pod.Name, c.Name)
	}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil && v.Name == "results" {
			assert.NotNil(t, v.EmptyDir.SizeLimit, "pod %s results sizeLimit", pod.Name)
		}
	}
}

func TestOperatorPodsAreSecureByDefault(t *testing.T) {
	t.Run("discovery", func(t *testing.T) {
		e := newEnv(t, testRun("r1"))
		e.reconcileRun("r1")
		pod := &corev1.Pod{}
		require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: DiscoveryPodName("r1")}, pod))
		requireSecure(t, pod)
	})
	t.Run("one test per pod", func(t *testing.T) {
		e := newEnv(t, testRun("r1", withTests(sampleIDs...)))
		started(t, e, "r1")
		for _, p := range e.pods() {
			requireSecure(t, &p)
		}
	})
	t.Run("a unit per pod", func(t *testing.T) {
		e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping(plan.PerFile, 0)))
		started(t, e, "r1")
		for _, p := range e.pods() {
			requireSecure(t, &p)
		}
	})
}

func TestRunDiscoveryLogOverTheCapEndsTheRun(t *testing.T) {
	e := newEnv(t, testRun("r1"))
	e.runs.Logs = func(_ context.Context, _, pod, container string) ([]byte, error) {
		return nil, &k8s.LogTooLargeError{Pod: pod, Container: container, Limit: 16 << 20}
	}
	e.reconcileRun("r1")
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, "larger than the 16 MiB")
	assert.Empty(t, e.testCases("r1"))
}
