package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// unitVerdict is what the streaming plugin reports of one finished test.
type unitVerdict struct {
	testID string
	failed bool
}

// unitBlock is what the collector of a unit's pod ships: one stream entry
// per finished test, with its own captured output, and the test running
// when the pod ended, if any.
func unitBlock(t *testing.T, running string, code int, done ...unitVerdict) []byte {
	t.Helper()
	files := []transport.File{
		{Name: "output.txt", Data: []byte("session output\n")},
		{Name: "exitcode", Data: fmt.Appendf(nil, "%d\n", code)},
	}
	for i, v := range done {
		file, name, _ := strings.Cut(v.testID, "::")
		verdict := ""
		if v.failed {
			verdict = `<failure message="AssertionError: boom">assert False</failure>`
		}
		tc := fmt.Sprintf(`<testcase classname="%s" name="%s" file="%s" line="%d" time="0.5">%s<system-out>----- Captured Out -----
out of %s
</system-out></testcase>`, strings.TrimSuffix(strings.ReplaceAll(file, "/", "."), ".py"), name, file, 10+i, verdict, v.testID)
		entry, err := json.Marshal(map[string]any{"nodeid": v.testID, "start": 1.77e9 + float64(10*i), "stop": 1.77e9 + float64(10*i+i+1), "testcases": []string{tc}})
		require.NoError(t, err)
		files = append(files, transport.File{Name: fmt.Sprintf("cases/%06d.json", i+1), Data: entry})
	}
	if running != "" {
		files = append(files, transport.File{Name: "cases/current", Data: fmt.Appendf(nil, `{"nodeid":%q}`, running)})
	}
	var buf bytes.Buffer
	require.NoError(t, transport.Encode(&buf, files, 8<<20))
	return buf.Bytes()
}

// oom plays the kubelet killing a pod's test container for its memory.
func (e *env) oom(name string) {
	e.t.Helper()
	pod := &corev1.Pod{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pod))
	started := metav1.NewTime(e.now.Add(-time.Second))
	pod.Status.StartTime = &started
	pod.Status.Phase = corev1.PodFailed
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: k8s.TestContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "OOMKilled", StartedAt: started, FinishedAt: metav1.NewTime(e.now)}}},
		{Name: k8s.CollectorContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
	}
	require.NoError(e.t, e.client.Status().Update(context.Background(), pod))
}

func withGrouping(podPer string, shards int32) func(*v1alpha1.TestRun) {
	return func(r *v1alpha1.TestRun) { r.Spec.PodPer, r.Spec.Shards = podPer, shards }
}

// runPods are the pods the run itself owns: its units' pods.
func (e *env) runPods(run string) []corev1.Pod {
	e.t.Helper()
	var out []corev1.Pod
	for _, p := range e.pods() {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "TestRun" && p.Labels[k8s.LabelRun] == run {
			out = append(out, p)
		}
	}
	return out
}

func TestRunGroupsTestsByFileOneTestCaseEach(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping(plan.PerFile, 0)))
	e.reconcileRun("r1")
	require.Len(t, e.testCases("r1"), 3, "one TestCase per test, grouped or not")
	e.reconcileRun("r1")

	pods := e.runPods("r1")
	require.Len(t, pods, 2, "one pod per file")
	assert.Len(t, e.pods(), 2, "and no pod of a test alone")
	byCases := map[string]corev1.Pod{}
	for _, p := range pods {
		byCases[p.Annotations[k8s.AnnotationCases]] = p
		assert.Equal(t, "1", p.Labels[k8s.LabelAttempt])
	}
	fileA := byCases[testid.CaseID(sampleIDs[0])+","+testid.CaseID(sampleIDs[1])]
	fileB := byCases[testid.CaseID(sampleIDs[2])]
	require.NotEmpty(t, fileA.Name, "tests of test_a.py share a pod, in order: %v", byCases)
	require.NotEmpty(t, fileB.Name)
	argv := func(p corev1.Pod) string {
		return strings.Join(append(p.Spec.Containers[0].Command, p.Spec.Containers[0].Args...), " ")
	}
	assert.Contains(t, argv(fileA), sampleIDs[0]+" "+sampleIDs[1], "a unit's pod runs its tests by id, in order")
	assert.NotContains(t, argv(fileA), sampleIDs[2])
	assert.Contains(t, argv(fileB), sampleIDs[2])

	e.logs[fileA.Name] = unitBlock(t, "", 1, unitVerdict{sampleIDs[0], false}, unitVerdict{sampleIDs[1], true})
	e.logs[fileB.Name] = unitBlock(t, "", 0, unitVerdict{sampleIDs[2], false})
	e.finish(fileA.Name, 1, false)
	e.finish(fileB.Name, 0, false)
	e.reconcileRun("r1") // collects
	e.reconcileRun("r1") // deletes, completes
	e.reconcileCases("r1")

	want := map[string]v1alpha1.TestCasePhase{sampleIDs[0]: v1alpha1.CasePassed, sampleIDs[1]: v1alpha1.CaseFailed, sampleIDs[2]: v1alpha1.CasePassed}
	took := map[string]time.Duration{sampleIDs[0]: time.Second, sampleIDs[1]: 2 * time.Second, sampleIDs[2]: time.Second}
	for id, phase := range want {
		tc := e.testCase("r1", id)
		assert.Equal(t, phase, tc.Status.Phase, id)
		require.Len(t, tc.Status.History, 1, id)
		a := tc.Status.History[0]
		assert.EqualValues(t, 1, a.Number)
		assert.EqualValues(t, 1, a.UnitAttempt)
		assert.NotEmpty(t, a.Unit)
		assert.Equal(t, tc.Status.Pod, a.Pod)
		require.NotNil(t, tc.Status.Duration, "each test has its own time: %s", id)
		assert.Equal(t, took[id], tc.Status.Duration.Duration, id)
	}
	assert.Equal(t, fileA.Name, e.testCase("r1", sampleIDs[1]).Status.Pod)
	assert.Contains(t, e.testCase("r1", sampleIDs[1]).Status.Message, "AssertionError: boom")
	assert.Empty(t, e.pods(), "collected pods are deleted")

	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
	assert.EqualValues(t, 3, run.Status.Total)
	assert.EqualValues(t, 2, run.Status.Passed)
	assert.EqualValues(t, 1, run.Status.Failed)

	rep, err := LoadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJUnit(&buf))
	suites, err := junit.Parse(&buf)
	require.NoError(t, err)
	for i, id := range sampleIDs {
		tc, ok := junit.Find(suites, id)
		require.True(t, ok, id)
		file, _, _ := strings.Cut(id, "::")
		assert.Equal(t, file, tc.File, id)
		assert.NotZero(t, tc.Line, id)
		assert.Equal(t, want[id] == v1alpha1.CaseFailed, tc.Failure != nil, id)
		require.NotNil(t, tc.SystemOut, id)
		assert.Contains(t, tc.SystemOut.Text, "out of "+id, "test %d keeps its own output", i)
		for _, other := range sampleIDs {
			if other != id {
				assert.NotContains(t, tc.SystemOut.Text, "out of "+other+"\n", id)
			}
		}
	}
}

func TestRunGroupedPodDiesRunsTheRestAgain(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping("", 1)))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pods := e.runPods("r1")
	require.Len(t, pods, 1, "one shard")
	first := pods[0].Name
	assert.Equal(t, k8s.PodName("r1", "shard-1", 1), first)

	// The first test passed, the second was running when the kernel
	// killed the pod; the third never started.
	e.logs[first] = unitBlock(t, sampleIDs[1], -1, unitVerdict{sampleIDs[0], false})
	e.oom(first)
	e.events()
	e.reconcileRun("r1") // collects
	evs := e.events()
	assert.NotContains(t, evs, "Normal Passed attempt 1 passed", "a pass at a test's only attempt gets no event")
	assert.Contains(t, evs, "Warning Error attempt 1 error (OOMKilled): the test container was killed for exceeding its memory limit")
	assert.Contains(t, evs, "Warning OOMKilled pod "+first+" of unit shard-1 ended: the test container was killed for exceeding its memory limit; 2 of its 3 tests settled")
	e.reconcileRun("r1") // deletes; queues the rest in a fresh pod
	e.reconcileCases("r1")

	assert.Equal(t, v1alpha1.CasePassed, e.testCase("r1", sampleIDs[0]).Status.Phase, "a finished test keeps its verdict")
	died := e.testCase("r1", sampleIDs[1])
	assert.Equal(t, v1alpha1.CaseError, died.Status.Phase)
	assert.Equal(t, "OOMKilled", died.Status.Reason, "the running test gets the pod's reason")
	assert.Empty(t, e.testCase("r1", sampleIDs[2]).Status.History, "a test the pod never reached has no attempt")

	pods = e.runPods("r1")
	require.Len(t, pods, 1)
	second := pods[0]
	assert.Equal(t, k8s.PodName("r1", "shard-1", 2), second.Name)
	assert.Equal(t, testid.CaseID(sampleIDs[2]), second.Annotations[k8s.AnnotationCases], "only the test not yet run")

	e.logs[second.Name] = unitBlock(t, "", 0, unitVerdict{sampleIDs[2], false})
	e.finish(second.Name, 0, false)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	e.reconcileCases("r1")

	third := e.testCase("r1", sampleIDs[2])
	assert.Equal(t, v1alpha1.CasePassed, third.Status.Phase)
	require.Len(t, third.Status.History, 1)
	assert.EqualValues(t, 2, third.Status.History[0].UnitAttempt)
	for _, id := range sampleIDs {
		assert.Len(t, e.testCase("r1", id).Status.History, 1, "nothing counted twice: %s", id)
	}
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
	assert.EqualValues(t, 2, run.Status.Passed)
	assert.EqualValues(t, 1, run.Status.Errors)
	assert.Empty(t, e.pods(), "no pod is left behind")
	assert.Equal(t, 1, e.created[first])
	assert.Equal(t, 1, e.created[second.Name])
}

// TestRunRecollectsAUnitPodOnlyForWhatIsMissing: an operator that stopped
// after recording some of a unit pod's tests records the others from the
// same pod, once each, and no test runs again.
func TestRunRecollectsAUnitPodOnlyForWhatIsMissing(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping("", 1)))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pod := e.runPods("r1")[0]
	e.logs[pod.Name] = unitBlock(t, "", 0, unitVerdict{sampleIDs[0], false}, unitVerdict{sampleIDs[1], false}, unitVerdict{sampleIDs[2], false})
	e.finish(pod.Name, 0, false)

	// What the last operator recorded before it stopped.
	tc := e.testCase("r1", sampleIDs[0])
	tc.Status.History = []v1alpha1.Attempt{{Number: 1, Pod: pod.Name, Status: "passed", Unit: "shard-1", UnitAttempt: 1}}
	require.NoError(t, e.client.Status().Update(context.Background(), tc))

	e.restart()
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	for _, id := range sampleIDs {
		h := e.testCase("r1", id).Status.History
		require.Len(t, h, 1, id)
		assert.Equal(t, pod.Name, h[0].Pod, id)
	}
	assert.Equal(t, v1alpha1.RunSucceeded, e.run("r1").Status.Phase)
	assert.Len(t, e.created, 1, "no pod created again")
}

// TestRunGroupedKeepsExclusiveLanesAlone: with shards, a serial test still
// runs in a pod of its own, which its TestCase owns.
func TestRunGroupedKeepsExclusiveLanesAlone(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping("", 2)))
	e.reconcileRun("r1")
	tc := e.testCase("r1", sampleIDs[2])
	tc.Spec.Lane = plan.LaneSerial
	require.NoError(t, e.client.Update(context.Background(), tc))
	e.reconcileRun("r1")
	pods := e.runPods("r1")
	require.Len(t, pods, 2, "the two parallel tests in two shards")
	for _, p := range pods {
		assert.NotContains(t, p.Annotations[k8s.AnnotationCases], testid.CaseID(sampleIDs[2]))
	}
	assert.Len(t, e.pods(), 2, "the serial test waits for the others")
}

// TestRunLooksAgainAtAPendingUnitPod: no event tells that a pod stays
// unschedulable, so the run comes back to its pending unit pods, within the
// pending timeout.
func TestRunLooksAgainAtAPendingUnitPod(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping(plan.PerFile, 0)))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	require.Len(t, e.runPods("r1"), 2)
	res := e.reconcileRun("r1")
	assert.Greater(t, res.RequeueAfter, time.Duration(0), "a pending pod is looked at again")
	assert.LessOrEqual(t, res.RequeueAfter, 10*time.Second)

	for _, p := range e.runPods("r1") {
		e.start(p.Name)
	}
	assert.Zero(t, e.reconcileRun("r1").RequeueAfter, "running pods report their own end")
}

// TestRunGroupedPodEvictedRunsTheTestAgain: the test running when its unit's
// pod was evicted gets the eviction, which is no failure of its own, and
// runs again with the tests the pod never reached, in the unit's next pod.
func TestRunGroupedPodEvictedRunsTheTestAgain(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping("", 1)))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	first := k8s.PodName("r1", "shard-1", 1)
	e.logs[first] = unitBlock(t, sampleIDs[1], -1, unitVerdict{sampleIDs[0], false})
	e.evict(first)
	e.reconcileRun("r1")
	e.reconcileRun("r1")

	evicted := e.testCase("r1", sampleIDs[1])
	require.Len(t, evicted.Status.History, 1)
	assert.Equal(t, plan.ReasonEvicted, evicted.Status.History[0].Reason)
	assert.Equal(t, v1alpha1.CaseRunning, evicted.Status.Phase, "an infrastructure retry is to come")
	second := e.runPods("r1")
	require.Len(t, second, 1)
	assert.Equal(t, k8s.PodName("r1", "shard-1", 2), second[0].Name)
	assert.Equal(t, testid.CaseID(sampleIDs[1])+","+testid.CaseID(sampleIDs[2]), second[0].Annotations[k8s.AnnotationCases])

	e.logs[second[0].Name] = unitBlock(t, "", 0, unitVerdict{sampleIDs[1], false}, unitVerdict{sampleIDs[2], false})
	e.finish(second[0].Name, 0, false)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	evicted = e.testCase("r1", sampleIDs[1])
	assert.Equal(t, v1alpha1.CasePassed, evicted.Status.Phase)
	assert.False(t, evicted.Status.Flaky, "a disruption does not make a test flaky")
	assert.Len(t, evicted.Status.History, 2, "every attempt is kept")
	assert.Len(t, e.testCase("r1", sampleIDs[0]).Status.History, 1)
	assert.Len(t, e.testCase("r1", sampleIDs[2]).Status.History, 1)
	assert.Equal(t, v1alpha1.RunSucceeded, e.run("r1").Status.Phase)
	assert.Empty(t, e.pods())
}

// TestUnitPodShowsItsTestsRunning: a unit's pod wakes the TestCases of its
// tests, which show it and are Running while it runs them.
func TestUnitPodShowsItsTestsRunning(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping(plan.PerFile, 0)))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pods := e.runPods("r1")
	require.Len(t, pods, 2)
	var fileA corev1.Pod
	for _, p := range pods {
		if strings.Contains(p.Annotations[k8s.AnnotationCases], ",") {
			fileA = p
		}
	}
	reqs := casesOfUnitPod(context.Background(), &fileA)
	require.Len(t, reqs, 2)
	assert.Equal(t, TestCaseName("r1", testid.CaseID(sampleIDs[0])), reqs[0].Name)
	assert.Equal(t, TestCaseName("r1", testid.CaseID(sampleIDs[1])), reqs[1].Name)
	assert.Empty(t, casesOfUnitPod(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other"}}), "other pods wake no TestCase")

	e.reconcileCases("r1")
	assert.Empty(t, e.testCase("r1", sampleIDs[0]).Status.Phase, "a pod not started yet runs nothing")
	e.start(fileA.Name)
	e.reconcileCases("r1")
	tc := e.testCase("r1", sampleIDs[0])
	assert.Equal(t, v1alpha1.CaseRunning, tc.Status.Phase)
	assert.Equal(t, fileA.Name, tc.Status.Pod)
	assert.Empty(t, e.testCase("r1", sampleIDs[2]).Status.Phase, "the other file's pod has not started")

	e.logs[fileA.Name] = unitBlock(t, "", 0, unitVerdict{sampleIDs[0], false}, unitVerdict{sampleIDs[1], false})
	e.finish(fileA.Name, 0, false)
	e.reconcileRun("r1")
	e.reconcileCases("r1")
	assert.Equal(t, v1alpha1.CasePassed, e.testCase("r1", sampleIDs[0]).Status.Phase)
}
