//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
)

// testGrouped runs the sample in operator mode with a pod per file and in
// 3 shards, and compares each report, test for test, with plain pytest on
// the same project in the same image; each test keeps its own TestCase,
// with one attempt made in its group's pod.
func (e *opEnv) testGrouped(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	plain := byKey(e.c.plainPytest(t, e.ns, e.image))
	for _, tt := range []struct {
		name string
		args []string
		pods int
	}{
		{"per file", []string{"--pod-per", "file"}, 3},
		{"3 shards", []string{"--shards", "3"}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "operator.xml")
			res := e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report, append([]string{"--mode", "operator"}, tt.args...)...), Testdata("sample"))...)
			assert.Equal(t, 1, res.Exit, "the sample has failing tests: %s", res.Stderr)
			assert.Contains(t, res.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
			e.c.RequireNoRunPods(t, e.ns)

			ours := readReport(t, report)
			requireSameAsPlain(t, plain, byKey(ours))
			assert.Equal(t, tt.pods, distinct(podsOf(t, ours)), "tests share pods as asked")

			run := e.latestRun(ctx, t, "sample-")
			assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
			cases := &v1alpha1.TestCaseList{}
			require.NoError(t, e.cr.List(ctx, cases, client.InNamespace(e.ns), client.MatchingLabels{k8s.LabelRun: run.Name}))
			require.Len(t, cases.Items, len(sampleVerdicts), "one TestCase per test")
			for _, tc := range cases.Items {
				assert.Equal(t, sampleVerdicts[tc.Spec.TestID], tc.Status.Phase, tc.Spec.TestID)
				if assert.Len(t, tc.Status.History, 1, "nothing counted twice: %s", tc.Spec.TestID) {
					assert.NotEmpty(t, tc.Status.History[0].Unit, tc.Spec.TestID)
				}
			}
			e.noPods(ctx, t, run.Name)

			// The run kept its tests' durations for the next one, whose
			// shards they balance.
			require.Equal(t, "k8s-testrun-durations-sample", run.Spec.DurationsConfigMap)
			cm, err := e.c.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, run.Spec.DurationsConfigMap, metav1.GetOptions{})
			require.NoError(t, err)
			var durations struct{ Tests map[string]float64 }
			require.NoError(t, json.Unmarshal([]byte(cm.Data[operator.DurationsKey]), &durations))
			for id := range sampleVerdicts {
				assert.Contains(t, durations.Tests, id)
			}
			for _, tc := range cases.Items {
				if tt.name == "3 shards" {
					assert.NotNil(t, tc.Spec.ExpectedDuration, "the second run knows %s from the first", tc.Spec.TestID)
				}
			}
		})
	}
}

// testGroupedPodDies runs testdata/grouped-limits in operator mode, a pod
// per file, whose second test of each file allocates past the memory limit
// or sleeps past the per-test timeout: the first test keeps its verdict,
// the second is an error with the reason, and the third runs in a fresh
// pod and passes, as TestGroupedPodDies has it in direct mode.
func (e *opEnv) testGroupedPodDies(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "operator.xml")
	project := Testdata("grouped-limits")
	res := e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report, "--mode", "operator", "--pod-per", "file", "--timeout", "20s",
		"--pod-template", filepath.Join(project, "pod-template.yaml")), project)...)
	assert.Equal(t, 2, res.Exit, "infrastructure reasons give the infrastructure exit code: %s", res.Stderr)
	assert.Contains(t, res.Stdout, "4 passed, 2 errors")
	e.c.RequireNoRunPods(t, e.ns)

	requireGroupedPodDeaths(t, readReport(t, report))
	run := e.latestRun(ctx, t, "grouped-limits-")
	e.noPods(ctx, t, run.Name)
}

// latestRun is the newest TestRun of the namespace whose name has prefix.
func (e *opEnv) latestRun(ctx context.Context, t *testing.T, prefix string) *v1alpha1.TestRun {
	t.Helper()
	list := &v1alpha1.TestRunList{}
	require.NoError(t, e.cr.List(ctx, list, client.InNamespace(e.ns)))
	var newest *v1alpha1.TestRun
	for i := range list.Items {
		r := &list.Items[i]
		if strings.HasPrefix(r.Name, prefix) && (newest == nil || newest.CreationTimestamp.Before(&r.CreationTimestamp) ||
			(newest.CreationTimestamp.Equal(&r.CreationTimestamp) && r.Name > newest.Name)) {
			newest = r
		}
	}
	require.NotNil(t, newest, "a TestRun named %s*", prefix)
	return newest
}
