//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
)

// testHistory is TestHistoryComparesWithTheBase through the operator: a
// TestRun of the sample's first commit records its verdicts in the
// project's history ConfigMap (spec.history) and has no base; one of a
// second commit, where one passing test fails and one failing test
// passes, compared with the first: exactly 1 new failure and 1 fixed test
// in its status, and in the NEW FAILURES column of kubectl get.
func (e *opEnv) testHistory(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	project, git := gitRepo(t)
	first := git("rev-parse", "HEAD")
	src, err := os.ReadFile(filepath.Join(project, "tests", "test_basic.py"))
	require.NoError(t, err)
	text := strings.Replace(string(src), "assert 1 + 1 == 2", "assert 1 + 1 == 3", 1)
	text = strings.Replace(text, "assert value == 3,", "assert value == 1,", 1)
	require.NotEqual(t, string(src), text)
	require.NoError(t, os.WriteFile(filepath.Join(project, "tests", "test_basic.py"), []byte(text), 0o644))
	git("commit", "-q", "-am", "swap")
	second := git("rev-parse", "HEAD")
	// The second commit's image, built by a direct run of one test.
	report := filepath.Join(t.TempDir(), "swap.xml")
	res := e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report), project, "--", nowFixed)...)
	require.Equal(t, 0, res.Exit, "the fixed test passes: %s", res.Stderr)
	swapped := suiteProperty(readReport(t, report), "k8s-testrun.image")
	require.Contains(t, swapped, "@sha256:")

	tests := []string{nowFailing, nowFixed, "tests/test_classes.py::TestArithmetic::test_add"}
	spec := func(commit, compareTo string) v1alpha1.TestRunSpec {
		return v1alpha1.TestRunSpec{Tests: tests, Parallelism: 3, Timeout: &metav1.Duration{Duration: 2 * time.Minute},
			History: &v1alpha1.HistorySpec{ConfigMap: "sample-history", Commit: commit, Branch: "main", CompareTo: compareTo}}
	}
	require.NoError(t, e.cr.Create(ctx, e.testRun("hist-one", spec(first, ""))))
	run := e.finished(ctx, t, "hist-one")
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
	assert.Nil(t, run.Status.Comparison)
	cond := meta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionCompared)
	require.NotNil(t, cond)
	assert.Equal(t, "NoBase", cond.Reason, cond.Message)

	two := e.testRun("hist-two", spec(second, first))
	two.Spec.Image = swapped
	require.NoError(t, e.cr.Create(ctx, two))
	run = e.finished(ctx, t, "hist-two")
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase, "the verdict is the run's own")
	require.NotNil(t, run.Status.Comparison, "conditions: %+v", run.Status.Conditions)
	assert.Equal(t, v1alpha1.ComparisonStatus{Base: first, Branch: "main", NewFailures: 1, Fixed: 1,
		NewFailureTests: []string{nowFailing}}, *run.Status.Comparison)

	out, err := e.run(ctx, "get", "testruns", "-n", e.ns, "hist-two")
	require.NoError(t, err, out)
	t.Logf("kubectl get testruns:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	head, row := strings.Fields(lines[0]), strings.Fields(lines[1])
	require.Equal(t, []string{"NAME", "PHASE", "TOTAL", "PASSED", "FAILED", "ERRORS", "SKIPPED", "NEW", "FAILURES", "AGE"}, head)
	assert.Equal(t, []string{"hist-two", "Failed", "3", "2", "1", "0", "0", "1"}, row[:8])

	cm := &corev1.ConfigMap{}
	require.NoError(t, e.cr.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: "sample-history"}, cm))
	assert.Equal(t, operator.RoleHistory, cm.Labels[k8s.LabelRole], "labels: %v", cm.Labels)
	recs, err := history.Unpack(cm.BinaryData)
	require.NoError(t, err)
	rec, ok := recs.Resolve("main", "")
	require.True(t, ok)
	assert.Equal(t, second, rec.Commit)
	assert.Equal(t, history.VerdictFailed, rec.Tests[nowFailing].Verdict)
	_, ok = recs.Resolve(first, "")
	assert.True(t, ok, "both commits are recorded")
	e.noPods(ctx, t, "hist-two")
}
