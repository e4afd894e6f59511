package operator

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// started creates the run's TestCases and first pods.
func started(t *testing.T, e *env, run string) {
	t.Helper()
	e.reconcileRun(run)
	e.reconcileRun(run)
	require.NotEmpty(t, e.pods())
}

func podName(run, testID string, attempt int) string {
	return k8s.PodName(run, testid.CaseID(testID), attempt)
}

// finishedCount reads the counter of tests finished with status.
func finishedCount(t *testing.T, status string) float64 {
	t.Helper()
	m := &dto.Metric{}
	require.NoError(t, casesFinished.WithLabelValues(status).Write(m))
	return m.GetCounter().GetValue()
}

func TestCaseRecordsAPassedAttemptThenDeletesItsPod(t *testing.T) {
	passedBefore := finishedCount(t, "passed")
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0])))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	pod := podName("r1", sampleIDs[0], 1)

	e.reconcileCase(name)
	tc := e.testCase("r1", sampleIDs[0])
	assert.Empty(t, tc.Status.Phase, "the pod has not started")

	e.start(pod)
	e.reconcileCase(name)
	tc = e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CaseRunning, tc.Status.Phase)
	assert.Equal(t, pod, tc.Status.Pod)

	e.now = e.now.Add(3 * time.Second)
	e.finish(pod, 0, false)
	e.reconcileCase(name)
	tc = e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CasePassed, tc.Status.Phase)
	assert.Equal(t, int32(1), tc.Status.Attempts)
	require.Len(t, tc.Status.History, 1)
	assert.Equal(t, "passed", tc.Status.History[0].Status)
	assert.Equal(t, pod, tc.Status.Pod)
	assert.Equal(t, "node-1", tc.Status.Node)
	require.NotNil(t, tc.Status.ExitCode)
	assert.Equal(t, int32(0), *tc.Status.ExitCode)
	require.NotNil(t, tc.Status.Duration)
	assert.Equal(t, time.Second, tc.Status.Duration.Duration)
	assert.Equal(t, ResultsName(name), tc.Status.Results)
	cm := &corev1.ConfigMap{}
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: ResultsName(name)}, cm))
	assert.Equal(t, "1", cm.Annotations[AnnotationAttempt])
	assert.Equal(t, tc.UID, metav1.GetControllerOf(cm).UID)
	assert.Len(t, e.pods(), 1, "the attempt is recorded before its pod goes")

	e.reconcileCase(name)
	assert.Empty(t, e.pods())
	for _, ev := range e.events() {
		assert.NotContains(t, ev, "attempt 1 passed", "a test that passed at its only attempt gets no event: its status tells")
	}
	assert.Equal(t, 1.0, finishedCount(t, "passed")-passedBefore, "counted as finished all the same")

	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase)
	assert.Equal(t, int32(1), run.Status.Passed)
	require.NotNil(t, run.Status.Report)
	xml, err := ReadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	assert.Contains(t, string(xml), `name="test_one"`)
	assert.Contains(t, string(xml), "output of tests/test_a.py::test_one")
}

func TestCaseRetriesAFailure(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) { r.Spec.Retries = 1 }))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))

	e.finish(podName("r1", sampleIDs[0], 1), 1, false)
	e.reconcileCase(name)
	tc := e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CaseRunning, tc.Status.Phase, "a retry is to come")
	assert.Equal(t, "AssertionError: expected three apples", tc.Status.Message)
	e.reconcileCase(name)
	assert.Empty(t, e.pods(), "the failed attempt's pod goes")

	e.reconcileRun("r1")
	require.Len(t, e.pods(), 1)
	assert.Equal(t, podName("r1", sampleIDs[0], 2), e.pods()[0].Name)

	e.finish(podName("r1", sampleIDs[0], 2), 0, false)
	e.reconcileCase(name)
	tc = e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CasePassed, tc.Status.Phase)
	assert.True(t, tc.Status.Flaky)
	assert.Equal(t, int32(2), tc.Status.Attempts)

	e.reconcileCase(name)
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase)
	assert.Equal(t, int32(1), run.Status.Flaky)
	evs := e.events()
	assert.Contains(t, evs, "Normal Retrying attempt 2 of 2 in pod "+podName("r1", sampleIDs[0], 2))
	assert.Contains(t, evs, "Warning AttemptFailed attempt 1 failed: AssertionError: expected three apples")
	assert.Contains(t, evs, "Normal Passed attempt 2 passed", "a pass after a retry gets its event")
}

func TestCaseWaitsForALingeringCollectorToShip(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) { r.Spec.LingerSecondsOnFailure = 60 }))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	pod := podName("r1", sampleIDs[0], 1)
	e.logs[pod] = []byte("nothing shipped yet\n")

	e.finish(pod, 1, true)
	res := e.reconcileCase(name)
	assert.Equal(t, time.Second, res.RequeueAfter)
	assert.Empty(t, e.testCase("r1", sampleIDs[0]).Status.History, "no attempt without its results while the collector may still ship them")

	e.now = e.now.Add(shipGrace + time.Second)
	e.reconcileCase(name)
	tc := e.testCase("r1", sampleIDs[0])
	require.Len(t, tc.Status.History, 1, "past the grace the outcome is recorded without results")
	assert.Contains(t, tc.Status.History[0].ResultsError, "no result block")
	assert.Equal(t, "failed", tc.Status.History[0].Status)
}

func TestCaseLingersOnFailureUntilTheLingerEnds(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) { r.Spec.LingerSecondsOnFailure = 60 }))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	pod := podName("r1", sampleIDs[0], 1)

	p := e.pods()[0]
	assert.Equal(t, "60", p.Annotations[AnnotationLinger])
	require.Len(t, p.Spec.Containers, 2, "a lingering collector is a regular container")
	assert.Equal(t, k8s.CollectorContainer, p.Spec.Containers[1].Name)
	assert.Contains(t, p.Spec.Containers[1].Command, "--linger-file")
	assert.NotContains(t, p.Spec.Containers[1].Command, "--hold")
	assert.Equal(t, int64(60+60+10), *p.Spec.ActiveDeadlineSeconds, "the deadline makes room for the linger")

	e.finish(pod, 1, true)
	e.reconcileCase(name)
	assert.Equal(t, v1alpha1.CaseFailed, e.testCase("r1", sampleIDs[0]).Status.Phase)
	res := e.reconcileCase(name)
	assert.Len(t, e.pods(), 1, "the failed test's pod stays")
	assert.Equal(t, 60*time.Second, res.RequeueAfter)
	assert.Contains(t, e.events(), "Normal Lingering pod "+pod+" stays for 1m0s for inspection")

	e.reconcileRun("r1")
	assert.Equal(t, v1alpha1.RunFailed, e.run("r1").Status.Phase, "a linger does not hold the run")

	e.now = e.now.Add(61 * time.Second)
	e.reconcileCase(name)
	assert.Empty(t, e.pods(), "the pod goes when the linger ends")
}

func TestCaseEndsLingerWhenTheRunIsDeleted(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) { r.Spec.LingerSecondsOnFailure = 600 }))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	e.finish(podName("r1", sampleIDs[0], 1), 1, true)
	e.reconcileCase(name)
	e.reconcileCase(name)
	require.Equal(t, "600", e.pods()[0].Annotations[AnnotationLinger])

	require.NoError(t, e.client.Delete(context.Background(), e.run("r1")))
	e.reconcileCase(name)
	assert.Equal(t, "0", e.pods()[0].Annotations[AnnotationLinger], "the collector is told to stop")
}

func TestCaseEnforcesTheTimeoutOfALingeringPod(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) { r.Spec.LingerSecondsOnFailure = 600 }))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	pod := podName("r1", sampleIDs[0], 1)
	e.start(pod)

	res := e.reconcileCase(name)
	assert.Equal(t, time.Minute, res.RequeueAfter, "it wakes at the timeout")

	e.now = e.now.Add(61 * time.Second)
	e.reconcileCase(name)
	p := e.pods()[0]
	require.NotNil(t, p.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, int64(62), *p.Spec.ActiveDeadlineSeconds, "the deadline comes down to now, so the kubelet ends the test")
}

// TestOperatorRestartsNeverRunATestTooOften plays a whole run with a
// kubelet that fails some tests, restarting the operator (dropping all it
// kept in memory) between every step, and checks that each attempt ran at
// most once and no test ran more often than it may.
func TestOperatorRestartsNeverRunATestTooOften(t *testing.T) {
	ids := []string{"t.py::a", "t.py::b", "t.py::c", "t.py::d", "t.py::e"}
	e := newEnv(t, testRun("r1", withTests(ids...), func(r *v1alpha1.TestRun) { r.Spec.Retries = 2 }))
	exit := map[string][]int32{"t.py::a": {0}, "t.py::b": {1, 1, 1}, "t.py::c": {1, 0}, "t.py::d": {2, 2, 0}, "t.py::e": {0}}

	for step := 0; step < 100 && !e.run("r1").Status.Phase.Finished(); step++ {
		e.now = e.now.Add(time.Second)
		e.reconcileRun("r1")
		for _, p := range e.pods() {
			if p.Status.Phase == "" && p.Labels[k8s.LabelRole] == "test" {
				id := p.Annotations[k8s.AnnotationTestID]
				e.finish(p.Name, exit[id][podAttempt(&p)-1], false)
			}
		}
		e.restart()
		e.reconcileCases("r1")
		e.restart()
	}
	run := e.run("r1")
	require.True(t, run.Status.Phase.Finished(), "the run finishes")
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
	assert.Equal(t, int32(5), run.Status.Total)
	assert.Equal(t, int32(4), run.Status.Passed)
	assert.Equal(t, int32(1), run.Status.Failed)
	assert.Equal(t, int32(2), run.Status.Flaky)
	for name, n := range e.created {
		assert.Equal(t, 1, n, "pod %s created once", name)
	}
	for _, id := range ids {
		prefix := "ktr-r1-" + testid.CaseID(id) + "-"
		n := 0
		for name := range e.created {
			if strings.HasPrefix(name, prefix) {
				n++
			}
		}
		assert.Equal(t, len(exit[id]), n, "pods of %s", id)
		assert.Len(t, e.testCase("r1", id).Status.History, len(exit[id]), id)
	}
	e.reconcileCases("r1")
	assert.Empty(t, e.pods(), "no pod is left")
}

// With a native collector, as the CLI's direct mode, an attempt ends at
// the test's exit: its results are recorded, its pod deleted and its slot
// given to the next test without waiting for the kubelet to stop the
// collector and end the pod.
func TestCaseEndsAtTheTestExitWithANativeCollector(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0], sampleIDs[1]), func(r *v1alpha1.TestRun) { r.Spec.Parallelism = 1 }))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	pod := podName("r1", sampleIDs[0], 1)
	require.Len(t, e.pods(), 1)
	assert.Equal(t, pod, e.pods()[0].Name)

	e.finish(pod, 0, true) // the collector still runs: the pod is Running
	e.reconcileCase(name)
	tc := e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CasePassed, tc.Status.Phase)
	require.Len(t, tc.Status.History, 1)
	assert.Empty(t, tc.Status.History[0].ResultsError)
	e.reconcileCase(name)
	assert.Empty(t, e.pods(), "the pod goes at the test's exit")

	e.reconcileRun("r1")
	require.Len(t, e.pods(), 1)
	assert.Equal(t, podName("r1", sampleIDs[1], 1), e.pods()[0].Name, "the next test takes the slot")
}

// A collector in a regular container still holds the attempt until the
// pod ends: its test's exit does not stop it.
func TestCaseWaitsForThePodWithAContainerCollector(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0], sampleIDs[1]), func(r *v1alpha1.TestRun) {
		r.Spec.Parallelism = 1
		r.Spec.Sidecar = v1alpha1.SidecarContainer
	}))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	pod := podName("r1", sampleIDs[0], 1)

	e.finish(pod, 0, true)
	e.reconcileCase(name)
	assert.Empty(t, e.testCase("r1", sampleIDs[0]).Status.History, "the pod still runs")
	e.reconcileRun("r1")
	require.Len(t, e.pods(), 1)
	assert.Equal(t, pod, e.pods()[0].Name, "no second pod while the first runs")

	e.finish(pod, 0, false)
	e.reconcileCase(name)
	require.Len(t, e.testCase("r1", sampleIDs[0]).Status.History, 1)
}

// A TestCase's status is written twice an attempt: when its pod has run
// for DefaultRunningAfter and when the attempt is recorded. Not when the
// TestCase is new, nor at each step of a pending pod (created, then
// scheduled), nor when the pod has ended and its attempt is being read: at
// 10,000 tests those writes were most of the operator's requests.
func TestCaseStatusIsWrittenWhenItsPodStartsAndWhenItsAttemptIsRecorded(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0])))
	e.cases.RunningAfter = 0
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	podKey := types.NamespacedName{Namespace: ns, Name: podName("r1", sampleIDs[0], 1)}
	writes := func(before *v1alpha1.TestCase) (*v1alpha1.TestCase, int) {
		tc := e.testCase("r1", sampleIDs[0])
		was, err := strconv.Atoi(before.ResourceVersion)
		require.NoError(t, err)
		now, err := strconv.Atoi(tc.ResourceVersion)
		require.NoError(t, err)
		return tc, now - was
	}

	created := e.testCase("r1", sampleIDs[0])
	e.reconcileCase(name)
	tc, n := writes(created)
	assert.Zero(t, n, "a new TestCase's status was written")
	assert.Empty(t, tc.Status.Phase)

	pod := &corev1.Pod{}
	require.NoError(t, e.client.Get(context.Background(), podKey, pod))
	pod.Spec.NodeName = "node-1"
	require.NoError(t, e.client.Update(context.Background(), pod))
	e.reconcileCase(name)
	tc, n = writes(created)
	assert.Zero(t, n, "a scheduled, still pending pod wrote the status")
	assert.Empty(t, tc.Status.Pod)

	e.start(podKey.Name)
	res := e.reconcileCase(name)
	tc, n = writes(created)
	assert.Zero(t, n, "not written the moment the pod started")
	assert.Empty(t, tc.Status.Phase)
	assert.Equal(t, DefaultRunningAfter, res.RequeueAfter, "looks again when the pod has run for DefaultRunningAfter")

	e.now = e.now.Add(DefaultRunningAfter)
	e.reconcileCase(name)
	e.reconcileCase(name)
	tc, n = writes(created)
	assert.Equal(t, 1, n, "the pod's start")
	assert.Equal(t, v1alpha1.CaseRunning, tc.Status.Phase)
	assert.Equal(t, podKey.Name, tc.Status.Pod)
	assert.Equal(t, "node-1", tc.Status.Node)

	e.now = e.now.Add(3 * time.Second)
	e.finish(podKey.Name, 0, true)
	e.reconcileCase(name)
	e.reconcileCase(name)
	tc, n = writes(created)
	assert.Equal(t, 2, n, "the pod's start and the attempt's record")
	assert.Equal(t, v1alpha1.CasePassed, tc.Status.Phase)
}

// A test whose pod ends within DefaultRunningAfter of its start is written
// once: when its attempt is recorded.
func TestCaseStatusOfAShortTestIsWrittenOnce(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0])))
	e.cases.RunningAfter = 0
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	pod := podName("r1", sampleIDs[0], 1)
	created := e.testCase("r1", sampleIDs[0])

	e.start(pod)
	res := e.reconcileCase(name)
	assert.Positive(t, res.RequeueAfter)
	e.now = e.now.Add(DefaultRunningAfter / 2)
	e.finish(pod, 0, true)
	e.reconcileCase(name)
	e.reconcileCase(name)
	tc := e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CasePassed, tc.Status.Phase)
	was, err := strconv.Atoi(created.ResourceVersion)
	require.NoError(t, err)
	now, err := strconv.Atoi(tc.ResourceVersion)
	require.NoError(t, err)
	assert.Equal(t, 1, now-was, "one write: the attempt's record")
}
