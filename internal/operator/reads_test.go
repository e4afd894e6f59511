package operator

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// hangingReads makes e's log reads wait for release, and counts them by
// pod.
type hangingReads struct {
	e       *env
	release chan struct{}
	mu      sync.Mutex
	reads   map[string]int
	started chan string
}

func hangReads(e *env) *hangingReads {
	h := &hangingReads{e: e, release: make(chan struct{}), reads: map[string]int{}, started: make(chan string, 64)}
	e.runs.Collect, e.cases.Collect = h.collect, h.collect
	e.t.Cleanup(h.free)
	return h
}

func (h *hangingReads) collect(ctx context.Context, pod *corev1.Pod, number int, opts k8s.ObserveOptions) (attempt.Attempt, []byte) {
	h.mu.Lock()
	h.reads[pod.Name]++
	h.mu.Unlock()
	h.started <- pod.Name
	<-h.release
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	return h.e.collect(ctx, pod, number, opts)
}

func (h *hangingReads) free() {
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

// reconcileAsync reconciles name with reconcile beside the test and
// returns the channel its result arrives on.
func reconcileAsync(reconcile func(context.Context, ctrl.Request) (ctrl.Result, error), name string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
		done <- err
	}()
	return done
}

// The operator's twin of the runner's TestRunCreatesWhileLogReadsHang: a
// unit pod's log read hangs, and the run's reconcile still returns and
// creates the next unit's pod; once the read ends, its results are
// recorded as if it had not hung.
func TestOperatorCreatesWhileLogReadsHang(t *testing.T) {
	ids := []string{"t_a.py::x", "t_a.py::y", "t_b.py::x", "t_b.py::y", "t_c.py::x", "t_c.py::y"}
	e := newEnv(t, testRun("r1", withTests(ids...), withGrouping(plan.PerFile, 0)))
	h := hangReads(e)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pods := e.runPods("r1")
	require.Len(t, pods, 2, "parallelism 2: two files' pods")
	byCases := map[string]string{}
	for _, p := range pods {
		byCases[p.Annotations[k8s.AnnotationCases]] = p.Name
	}
	first := byCases[CaseOf(e.testCase("r1", ids[0])).ID+","+CaseOf(e.testCase("r1", ids[1])).ID]
	require.NotEmpty(t, first, "%v", byCases)
	e.mu.Lock()
	e.logs[first] = unitBlock(t, "", 1, unitVerdict{ids[0], false}, unitVerdict{ids[1], true})
	e.mu.Unlock()
	e.finish(first, 1, false)

	done := reconcileAsync(e.runs.Reconcile, "r1")
	select {
	case name := <-h.started:
		assert.Equal(t, first, name)
	case <-time.After(5 * time.Second):
		t.Fatal("the finished pod's read never started")
	}
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the run's reconcile waits on a hanging log read")
	}
	third := ""
	for _, p := range e.runPods("r1") {
		if p.Name != first && p.Annotations[k8s.AnnotationCases] != "" && byCases[p.Annotations[k8s.AnnotationCases]] == "" {
			third = p.Name
		}
	}
	require.NotEmpty(t, third, "the third file's pod is created while the first pod's read hangs")
	assert.Empty(t, e.testCase("r1", ids[0]).Status.History, "nothing is recorded before the read ends")

	for _, p := range e.runPods("r1") {
		if p.Name != first {
			e.mu.Lock()
			e.logs[p.Name] = unitBlock(t, "", 0)
			e.mu.Unlock()
		}
	}
	h.free()
	for range 10 {
		e.reconcileRun("r1")
		for _, p := range e.runPods("r1") {
			if p.Status.Phase == "" || p.Status.Phase == corev1.PodPending {
				cases := p.Annotations[k8s.AnnotationCases]
				var verdicts []unitVerdict
				for _, id := range ids {
					if contains(cases, CaseOf(e.testCase("r1", id)).ID) {
						verdicts = append(verdicts, unitVerdict{id, false})
					}
				}
				e.mu.Lock()
				e.logs[p.Name] = unitBlock(t, "", 0, verdicts...)
				e.mu.Unlock()
				e.finish(p.Name, 0, false)
			}
		}
		if e.run("r1").Status.Phase.Finished() {
			break
		}
	}
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
	assert.EqualValues(t, 6, run.Status.Total)
	assert.EqualValues(t, 5, run.Status.Passed)
	assert.EqualValues(t, 1, run.Status.Failed)
	for _, id := range ids {
		tc := e.testCase("r1", id)
		require.Len(t, tc.Status.History, 1, "one attempt each: %s", id)
	}
	a := e.testCase("r1", ids[1]).Status.History[0]
	assert.Equal(t, first, a.Pod)
	assert.Equal(t, string(plan.Failed), a.Status, "the hung read's verdict is recorded once it ends")
	h.mu.Lock()
	assert.Equal(t, 1, h.reads[first], "a read under way is not started again")
	h.mu.Unlock()
}

func contains(list, id string) bool { return slices.Contains(strings.Split(list, ","), id) }

// A test's own pod: its TestCase's reconcile returns while the pod's log
// read hangs, and records the attempt once the read ends.
func TestOperatorRecordsAfterHangingRead(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...)))
	h := hangReads(e)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	tc := e.testCase("r1", sampleIDs[0])
	pod := k8s.PodName("r1", CaseOf(tc).ID, 1)
	e.finish(pod, 1, false)

	done := reconcileAsync(e.cases.Reconcile, tc.Name)
	select {
	case name := <-h.started:
		assert.Equal(t, pod, name)
	case <-time.After(5 * time.Second):
		t.Fatal("the finished pod's read never started")
	}
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the test's reconcile waits on a hanging log read")
	}
	assert.Empty(t, e.testCase("r1", sampleIDs[0]).Status.History, "nothing is recorded before the read ends")
	e.reconcileRun("r1")
	assert.Equal(t, 1, e.created[k8s.PodName("r1", CaseOf(e.testCase("r1", sampleIDs[2])).ID, 1)], "the next test's pod is created meanwhile")

	h.free()
	e.reconcileCase(tc.Name)
	got := e.testCase("r1", sampleIDs[0])
	require.Len(t, got.Status.History, 1)
	assert.Equal(t, v1alpha1.CaseFailed, got.Status.Phase, "the hung read's verdict is recorded once it ends")
	assert.Equal(t, pod, got.Status.History[0].Pod)
	h.mu.Lock()
	assert.Equal(t, 1, h.reads[pod], "a read under way is not started again")
	h.mu.Unlock()
}
