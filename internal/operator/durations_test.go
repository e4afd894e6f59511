package operator

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

func durationsConfigMap(data string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sample-durations", Namespace: ns}, Data: map[string]string{DurationsKey: data}}
}

func withDurations(name string) func(*v1alpha1.TestRun) {
	return func(r *v1alpha1.TestRun) { r.Spec.DurationsConfigMap = name }
}

func (e *env) durations() map[string]float64 {
	e.t.Helper()
	cm := &corev1.ConfigMap{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "sample-durations"}, cm))
	var f struct {
		Version int
		Tests   map[string]float64
	}
	require.NoError(e.t, json.Unmarshal([]byte(cm.Data[DurationsKey]), &f))
	assert.Equal(e.t, 1, f.Version)
	return f.Tests
}

// TestRunBalancesShardsByTheDurationsConfigMap: the history the run's
// ConfigMap keeps gives each TestCase its expected duration, which balances
// the shards (the 10-second test gets a shard of its own, where without a
// history the shards split by count); the finished run adds its own
// durations and keeps those of tests it did not run.
func TestRunBalancesShardsByTheDurationsConfigMap(t *testing.T) {
	history := `{"version": 1, "tests": {"tests/test_a.py::test_one": 1, "tests/test_a.py::test_two": 1, "tests/test_b.py::test_three": 10, "tests/test_old.py::test_gone": 5}}`
	e := newEnv(t, durationsConfigMap(history), testRun("r1", withTests(sampleIDs...), withGrouping("", 2), withDurations("sample-durations")))
	e.reconcileRun("r1")
	tc := e.testCase("r1", sampleIDs[2])
	require.NotNil(t, tc.Spec.ExpectedDuration)
	assert.Equal(t, 10*time.Second, tc.Spec.ExpectedDuration.Duration)

	e.reconcileRun("r1")
	pods := e.runPods("r1")
	require.Len(t, pods, 2)
	shards := map[string]string{}
	for _, p := range pods {
		shards[p.Annotations[k8s.AnnotationCases]] = p.Name
	}
	alone := testid.CaseID(sampleIDs[2])
	together := testid.CaseID(sampleIDs[0]) + "," + testid.CaseID(sampleIDs[1])
	require.Contains(t, shards, alone, "the slow test has a shard of its own: %v", shards)
	require.Contains(t, shards, together, "the others share one: %v", shards)

	e.logs[shards[alone]] = unitBlock(t, "", 0, unitVerdict{sampleIDs[2], false})
	e.logs[shards[together]] = unitBlock(t, "", 0, unitVerdict{sampleIDs[0], false}, unitVerdict{sampleIDs[1], false})
	e.finish(shards[alone], 0, false)
	e.finish(shards[together], 0, false)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	require.Equal(t, v1alpha1.RunSucceeded, e.run("r1").Status.Phase)

	got := e.durations()
	assert.Equal(t, map[string]float64{
		sampleIDs[0]:                   1, // the first entry of its block took 1s
		sampleIDs[1]:                   2,
		sampleIDs[2]:                   1,
		"tests/test_old.py::test_gone": 5,
	}, got, "this run's durations, and the old ones of tests it did not run")
}

// TestRunWithoutGroupingStartsTheSlowestFirst: one pod per test, and the
// history puts the slowest test's pod first.
func TestRunWithoutGroupingStartsTheSlowestFirst(t *testing.T) {
	history := `{"version": 1, "tests": {"tests/test_a.py::test_one": 1, "tests/test_a.py::test_two": 2, "tests/test_b.py::test_three": 30}}`
	e := newEnv(t, durationsConfigMap(history), testRun("r1", withTests(sampleIDs...), withDurations("sample-durations"),
		func(r *v1alpha1.TestRun) { r.Spec.Parallelism = 1 }))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pods := e.pods()
	require.Len(t, pods, 1)
	assert.Equal(t, k8s.PodName("r1", testid.CaseID(sampleIDs[2]), 1), pods[0].Name, "the 30-second test starts first")
	assert.Equal(t, "TestCase", metav1.GetControllerOf(&pods[0]).Kind, "a test alone still runs in its TestCase's pod")
}

// TestRunCreatesTheDurationsConfigMap: the first run of a project creates
// its history; an unreadable history is reported and the run goes on
// without it.
func TestRunCreatesTheDurationsConfigMap(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), withDurations("sample-durations")))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pod := k8s.PodName("r1", testid.CaseID(sampleIDs[0]), 1)
	e.now = e.now.Add(3 * time.Second)
	e.finish(pod, 0, false)
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	require.Equal(t, v1alpha1.RunSucceeded, e.run("r1").Status.Phase)
	assert.Equal(t, map[string]float64{sampleIDs[0]: 1}, e.durations())

	e2 := newEnv(t, durationsConfigMap("{not json"), testRun("r2", withTests(sampleIDs[0]), withDurations("sample-durations")))
	e2.reconcileRun("r2")
	assert.Nil(t, e2.testCase("r2", sampleIDs[0]).Spec.ExpectedDuration)
	assert.Contains(t, e2.events(), "Warning DurationsUnreadable configmap sample-durations, key durations.json: invalid character 'n' looking for beginning of object key string (delete it, or give a file this version wrote); the tests run without their history")
}
