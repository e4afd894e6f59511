package operator

import (
	"context"
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
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

const (
	commitOne = "1111111111111111111111111111111111111111"
	commitTwo = "2222222222222222222222222222222222222222"
)

func withHistory(commit, compareTo string) func(*v1alpha1.TestRun) {
	return func(r *v1alpha1.TestRun) {
		r.Spec.History = &v1alpha1.HistorySpec{ConfigMap: "sample-history", Commit: commit, Branch: "main", CompareTo: compareTo}
		r.Spec.Parallelism = int32(len(sampleIDs))
	}
}

// runTo runs name to its end with each test's exit code.
func (e *env) runTo(name string, codes ...int32) *v1alpha1.TestRun {
	e.t.Helper()
	e.reconcileRun(name)
	e.reconcileRun(name)
	for i, id := range sampleIDs {
		e.finish(k8s.PodName(name, testid.CaseID(id), 1), codes[i], false)
	}
	e.reconcileCases(name)
	e.reconcileRun(name)
	run := e.run(name)
	require.True(e.t, run.Status.Phase.Finished(), "run %s: %s", name, run.Status.Phase)
	return run
}

func (e *env) historyRecords() history.Records {
	e.t.Helper()
	cm := &corev1.ConfigMap{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "sample-history"}, cm))
	assert.Equal(e.t, RoleHistory, cm.Labels[k8s.LabelRole])
	recs, err := history.Unpack(cm.BinaryData)
	require.NoError(e.t, err)
	return recs
}

// TestRunComparesWithItsBaseInTheHistoryConfigMap: the first run of a
// project records its verdicts under its commit and says it has no base;
// the second, compared with the first commit, counts one new failure and
// one fixed test in its status, and both commits are recorded.
func TestRunComparesWithItsBaseInTheHistoryConfigMap(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withHistory(commitOne, "")),
		testRun("r2", withTests(sampleIDs...), withHistory(commitTwo, commitOne)))
	run := e.runTo("r1", 0, 1, 0)
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
	assert.Nil(t, run.Status.Comparison)
	cond := meta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionCompared)
	require.NotNil(t, cond)
	assert.Equal(t, metav1.ConditionFalse, cond.Status)
	assert.Equal(t, "no earlier run of branch main is recorded in configmap sample-history; nothing to compare with", cond.Message)
	recs := e.historyRecords()
	rec, ok := recs.Resolve(commitOne, "")
	require.True(t, ok, "the first commit is recorded")
	assert.Equal(t, history.VerdictPassed, rec.Tests[sampleIDs[0]].Verdict)
	assert.Equal(t, history.VerdictFailed, rec.Tests[sampleIDs[1]].Verdict)

	e.now = e.now.Add(time.Minute)
	run = e.runTo("r2", 1, 0, 0)
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase, "the verdict is unchanged by the comparison")
	assert.Equal(t, &v1alpha1.ComparisonStatus{Base: commitOne, Branch: "main", NewFailures: 1, Fixed: 1,
		NewFailureTests: []string{sampleIDs[0]}}, run.Status.Comparison)
	cond = meta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionCompared)
	require.NotNil(t, cond)
	assert.Equal(t, metav1.ConditionTrue, cond.Status)
	assert.Equal(t, "compared with 111111111111 (main): 1 new failures, 1 fixed, 0 still failing, 0 new flaky, 0 new tests, 0 removed, 0 slower", cond.Message)
	recs = e.historyRecords()
	assert.Len(t, recs, 2)
	rec, ok = recs.Resolve("main", "")
	require.True(t, ok)
	assert.Equal(t, commitTwo, rec.Commit, "the branch's newest record is the second run's")
}

// TestRunLeavesAHistoryItCannotReadAlone: a record in a newer format is
// neither read nor overwritten; the run says so and keeps its verdict.
func TestRunLeavesAHistoryItCannotReadAlone(t *testing.T) {
	future := history.NewRecord(commitOne, "main", t0, nil)
	future.Format = history.StoreFormat + 1
	data, _, err := history.Pack(history.Records{future}, 1<<20)
	require.NoError(t, err)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sample-history", Namespace: ns,
		Labels: map[string]string{k8s.LabelRole: RoleHistory}}, BinaryData: data}
	e := newEnv(t, cm, testRun("r2", withTests(sampleIDs...), withHistory(commitTwo, commitOne)))
	run := e.runTo("r2", 0, 0, 0)
	assert.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase)
	assert.Nil(t, run.Status.Comparison)
	cond := meta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionCompared)
	require.NotNil(t, cond)
	assert.Equal(t, "HistoryUnreadable", cond.Reason)
	assert.Contains(t, cond.Message, "newer than this k8s-testrun reads")
	found := false
	for _, ev := range e.events() {
		found = found || strings.HasPrefix(ev, "Warning HistoryUnreadable configmap sample-history:")
	}
	assert.True(t, found, "an event says so")
	got := &corev1.ConfigMap{}
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "sample-history"}, got))
	assert.Equal(t, data, got.BinaryData, "left as it was")

	// A ConfigMap of that name that is no history is not overwritten.
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sample-history", Namespace: ns}, Data: map[string]string{"k": "v"}}
	e = newEnv(t, other, testRun("r3", withTests(sampleIDs...), withHistory(commitTwo, "")))
	e.runTo("r3", 0, 0, 0)
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "sample-history"}, got))
	assert.Equal(t, map[string]string{"k": "v"}, got.Data)
	assert.Empty(t, got.BinaryData)
}
