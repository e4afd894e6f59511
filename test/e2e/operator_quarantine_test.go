//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
)

// testQuarantine is the quarantine e2e through the operator: a failing
// test quarantined (spec.quarantine, a ConfigMap) until a future date runs,
// is counted quarantined and the run succeeds; the same entry dated
// yesterday fails the run and gets a QuarantineExpired event.
func (e *opEnv) testQuarantine(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	failing := "tests/test_basic.py::test_fails_with_message"
	for _, tc := range []struct {
		name, until string
		phase       v1alpha1.TestRunPhase
		failed, q   int32
	}{
		{"quarantine-future", time.Now().AddDate(0, 0, 30).Format("2006-01-02"), v1alpha1.RunSucceeded, 0, 1},
		{"quarantine-expired", time.Now().AddDate(0, 0, -1).Format("2006-01-02"), v1alpha1.RunFailed, 1, 0},
	} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: e.ns},
			Data: map[string]string{"quarantine.yaml": fmt.Sprintf("quarantine:\n- test: %q\n  until: %s\n  reason: known bug\n", failing, tc.until)}}
		require.NoError(t, e.cr.Create(ctx, cm))
		run := e.testRun(tc.name, v1alpha1.TestRunSpec{Tests: []string{failing, "tests/test_basic.py::test_passes"}, Parallelism: 2,
			Timeout: &metav1.Duration{Duration: 2 * time.Minute}, Quarantine: &v1alpha1.QuarantineRef{ConfigMap: tc.name}})
		require.NoError(t, e.cr.Create(ctx, run))
		run = e.finished(ctx, t, tc.name)
		assert.Equal(t, tc.phase, run.Status.Phase, run.Status.Message)
		assert.Equal(t, tc.failed, run.Status.Failed)
		assert.Equal(t, tc.q, run.Status.Quarantined)
		assert.Equal(t, int32(1), run.Status.Passed)
		// Events are sent apart from the status: look for a while.
		var out string
		for deadline := time.Now().Add(15 * time.Second); ; {
			var err error
			out, err = e.run(ctx, "get", "events", "-n", e.ns, "--field-selector", "involvedObject.name="+tc.name, "-o", "custom-columns=REASON:.reason")
			require.NoError(t, err, out)
			if strings.Contains(out, "QuarantineExpired") || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		assert.Equal(t, tc.q == 0, strings.Contains(out, "QuarantineExpired"), "an expired entry is warned of:\n%s", out)
		e.noPods(ctx, t, tc.name)
	}
}

// testRunQuarantine is `run --mode operator --quarantine FILE` on the
// sample: with its three failures quarantined until a future date the run
// passes (exit 0) and counts them quarantined; the quarantine ConfigMap
// goes with the run.
func (e *opEnv) testRunQuarantine(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	file := filepath.Join(t.TempDir(), "quarantine.yaml")
	var b strings.Builder
	b.WriteString("quarantine:\n")
	for _, id := range sampleFailed {
		fmt.Fprintf(&b, "- test: %q\n  until: %s\n  reason: known bug\n", id, time.Now().AddDate(0, 0, 30).Format("2006-01-02"))
	}
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
	report := filepath.Join(t.TempDir(), "operator.xml")
	res := e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report, "--mode", "operator", "--quarantine", file), Testdata("sample"))...)
	assert.Equal(t, 0, res.Exit, "every failure is quarantined: %s", res.Stderr)
	assert.Contains(t, res.Stdout+res.Stderr, "3 quarantined")
	e.c.RequireNoRunPods(t, e.ns)
	xml, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(xml), "known bug", "the report says why")
	cms, err := e.c.Client.CoreV1().ConfigMaps(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	owned := 0
	for _, cm := range cms.Items {
		if strings.HasSuffix(cm.Name, "-quarantine") && strings.HasPrefix(cm.Name, "sample-") {
			ref := metav1.GetControllerOf(&cm)
			require.NotNil(t, ref, "configmap %s has its run as owner", cm.Name)
			assert.Equal(t, "TestRun", ref.Kind)
			owned++
		}
	}
	assert.Equal(t, 1, owned, "one quarantine configmap, the run's")
}
