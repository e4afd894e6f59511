//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// TestBaselinePodSecurity runs the sample project one pod per test in a
// namespace that enforces the baseline Pod Security Standard, and checks
// from the API's own view of every pod the run created (discovery and
// tests) that each carried k8s-testrun's default security settings.
func TestBaselinePodSecurity(t *testing.T) {
	runUnderPodSecurity(t, "baseline", "")
}

// TestRestrictedPodSecurity does the same under the restricted standard,
// with the template of docs/security.md that adds a non-root user.
func TestRestrictedPodSecurity(t *testing.T) {
	tmpl := filepath.Join(t.TempDir(), "pod.yaml")
	require.NoError(t, os.WriteFile(tmpl, []byte("spec:\n  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"), 0o644))
	runUnderPodSecurity(t, "restricted", tmpl)
}

func runUnderPodSecurity(t *testing.T, level, template string) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-"+level)
	ctx := Context(t, 10*time.Minute)
	nsObj, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.NoError(t, err)
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = level
	nsObj.Labels["pod-security.kubernetes.io/enforce-version"] = "latest"
	_, err = c.Client.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{})
	require.NoError(t, err, "labelling namespace %s", ns)

	w, before := c.WatchPods(ctx, t, ns, k8s.LabelManagedBy+"="+k8s.ManagedBy)
	require.Empty(t, before)
	var mu sync.Mutex
	pods := map[string]*corev1.Pod{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
				mu.Lock()
				pods[p.Name] = p
				mu.Unlock()
			}
		}
	}()

	report := filepath.Join(t.TempDir(), "junit.xml")
	var extra []string
	if template != "" {
		extra = []string{"--pod-template", template}
	}
	// A project of its own, so no collection cached by an earlier run
	// spares the discovery pod this test inspects.
	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, extra...), uniqueProject(t, Testdata("sample")))...)
	w.Stop()
	<-done
	assert.Equal(t, 1, res.Exit, "the sample has failing tests: exit code 1, not an infrastructure error")
	assert.Contains(t, res.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
	c.RequireNoRunPods(t, ns)
	require.Len(t, byKey(readReport(t, report)), 12)

	mu.Lock()
	defer mu.Unlock()
	roles := map[string]int{}
	for name, p := range pods {
		roles[p.Labels[k8s.LabelRole]]++
		sc := p.Spec.SecurityContext
		require.NotNil(t, sc, "pod %s", name)
		require.NotNil(t, sc.SeccompProfile, "pod %s", name)
		assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type, "pod %s", name)
		for _, ctr := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			require.NotNil(t, ctr.SecurityContext, "pod %s container %s", name, ctr.Name)
			assert.Equal(t, ptr.To(false), ctr.SecurityContext.AllowPrivilegeEscalation, "pod %s container %s", name, ctr.Name)
			require.NotNil(t, ctr.SecurityContext.Capabilities, "pod %s container %s", name, ctr.Name)
			assert.Equal(t, []corev1.Capability{"ALL"}, ctr.SecurityContext.Capabilities.Drop, "pod %s container %s", name, ctr.Name)
		}
		for _, v := range p.Spec.Volumes {
			if v.EmptyDir != nil && v.Name == "results" {
				require.NotNil(t, v.EmptyDir.SizeLimit, "pod %s results volume", name)
				assert.Equal(t, "1Gi", v.EmptyDir.SizeLimit.String(), "pod %s results volume", name)
			}
		}
	}
	assert.Equal(t, 1, roles["discover"], "one discovery pod: %v", roles)
	assert.GreaterOrEqual(t, roles["test"], 11, "one pod per test: %v", roles)
}
