//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// testAPICoverage runs testdata/apicov through the operator, one pod per
// test, with --api-coverage local: the TestRun records the source, each
// attempt its pod's UID, and the run reads the audit log once the TestRun
// ends, with each test's endpoints exactly as in direct mode.
func (e *opEnv) testAPICoverage(t *testing.T) {
	base := os.Getenv(envKubernetesBase)
	require.NotEmpty(t, base, "set %s to a Python image with python3-kubernetes (the local cluster's env file names one)", envKubernetesBase)
	require.NotEmpty(t, os.Getenv(envAuditLog), "set %s to the API server's audit log (the local cluster's env file names it)", envAuditLog)
	ctx := Context(t, 10*time.Minute)
	tmpl := filepath.Join(t.TempDir(), "pod-template.yaml")
	require.NoError(t, os.WriteFile(tmpl, []byte(e.c.apicovAccount(t, e.ns)), 0o644))
	out := t.TempDir()
	report := filepath.Join(out, "junit.xml")

	res := e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report, "--mode", "operator",
		"--base-image", base, "--pod-template", tmpl, "--api-coverage", "local"), Testdata("apicov"))...)
	require.Equal(t, 0, res.Exit, "stderr:\n%s", res.Stderr)
	e.c.RequireNoRunPods(t, e.ns)

	run := e.latestRun(ctx, t, "apicov-")
	assert.Equal(t, "local", run.Spec.APICoverage)
	cases := &v1alpha1.TestCaseList{}
	require.NoError(t, e.cr.List(ctx, cases, client.InNamespace(e.ns), client.MatchingLabels{k8s.LabelRun: run.Name}))
	require.Len(t, cases.Items, len(apicovExpected))
	for _, tc := range cases.Items {
		if assert.Len(t, tc.Status.History, 1, tc.Spec.TestID) {
			assert.NotEmpty(t, tc.Status.History[0].PodUID, "%s's attempt names its pod's UID", tc.Spec.TestID)
		}
	}

	ts := readReport(t, report)
	pods := podsOf(t, ts)
	require.Len(t, pods, 4)
	assert.Equal(t, 4, distinct(pods), "one pod per test: %v", pods)
	e.c.requireAPICoverage(t, out, ts, res.Stdout)
}
