package runner

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	restclient "k8s.io/client-go/rest"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// kubelet plays the node for a fake clientset: it runs each created pod for
// a moment and ends it with the exit code exit(testID, attempt) gives, and
// records how many pods ran at once.
type kubelet struct {
	t      *testing.T
	client *fake.Clientset
	exit   func(testID string, attempt int) int32
	run    time.Duration
	// hold keeps a native collector running after the test exits, as the
	// kubelet does until it stops the sidecar.
	hold bool
	// showRunning reports the test container running before it ends.
	showRunning bool

	mu          sync.Mutex
	running     int
	maxRunning  int
	createdPods []string
	// images are the test container's image of each created pod, by the
	// pod's case label.
	images map[string]string
}

func (k *kubelet) start(ctx context.Context) {
	w, err := k.client.CoreV1().Pods("ns").Watch(ctx, metav1.ListOptions{})
	require.NoError(k.t, err)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			pod := ev.Object.(*corev1.Pod)
			k.mu.Lock()
			k.running++
			k.maxRunning = max(k.maxRunning, k.running)
			k.createdPods = append(k.createdPods, pod.Name)
			if k.images == nil {
				k.images = map[string]string{}
			}
			for _, c := range pod.Spec.Containers {
				if c.Name == k8s.TestContainer {
					k.images[pod.Labels[k8s.LabelCase]] = c.Image
				}
			}
			k.mu.Unlock()
			go k.finish(ctx, pod.DeepCopy())
		}
	}()
}

func (k *kubelet) finish(ctx context.Context, pod *corev1.Pod) {
	if k.showRunning {
		running := pod.DeepCopy()
		running.Spec.NodeName = "node-1"
		running.Status.Phase = corev1.PodRunning
		running.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name:  k8s.TestContainer,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
		}}
		_, _ = k.client.CoreV1().Pods("ns").UpdateStatus(ctx, running, metav1.UpdateOptions{})
	}
	select {
	case <-time.After(k.run):
	case <-ctx.Done():
		return
	}
	attempt, _ := strconv.Atoi(pod.Labels[k8s.LabelAttempt])
	code := k.exit(pod.Annotations[k8s.AnnotationTestID], attempt)
	pod.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		pod.Status.Phase = corev1.PodFailed
	}
	collector := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	if k.hold {
		pod.Status.Phase = corev1.PodRunning
		collector = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	}
	pod.Spec.NodeName = "node-1"
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  k8s.TestContainer,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}},
	}}
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: k8s.CollectorContainer, State: collector}}
	k.mu.Lock()
	k.running--
	k.mu.Unlock()
	_, _ = k.client.CoreV1().Pods("ns").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
}

func cases(ids ...string) []plan.Case {
	out := make([]plan.Case, len(ids))
	for i, id := range ids {
		out[i] = plan.Case{ID: testid.CaseID(id), TestID: id}
	}
	return out
}

func TestRunParallelismRetriesAndCleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 30 * time.Millisecond, exit: func(id string, attempt int) int32 {
		switch id {
		case "t.py::bad":
			return 1
		case "t.py::flaky":
			if attempt == 1 {
				return 1
			}
		}
		return 0
	}}
	k.start(ctx)

	ids := []string{"t.py::a", "t.py::b", "t.py::bad", "t.py::flaky", "t.py::c", "t.py::d"}
	var mu sync.Mutex
	var seen []string
	results, err := Run(ctx, Options{
		Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases: cases(ids...), Parallelism: 2, MaxAttempts: 2, Resync: 20 * time.Millisecond,
		OnAttempt: func(c plan.Case, a attempt.Attempt) {
			mu.Lock()
			seen = append(seen, c.TestID)
			mu.Unlock()
		},
	})
	require.NoError(t, err)
	require.Len(t, results, len(ids))

	byID := map[string]report.CaseResult{}
	for _, r := range results {
		byID[r.Case.TestID] = r
		assert.True(t, r.Final, r.Case.TestID)
	}
	assert.Equal(t, plan.Passed, byID["t.py::a"].Status)
	assert.Len(t, byID["t.py::a"].Attempts, 1)
	assert.Equal(t, plan.Failed, byID["t.py::bad"].Status)
	assert.Len(t, byID["t.py::bad"].Attempts, 2)
	assert.Equal(t, plan.Passed, byID["t.py::flaky"].Status)
	assert.True(t, byID["t.py::flaky"].Flaky)
	assert.Equal(t, "node-1", byID["t.py::a"].Attempts[0].Node)
	assert.Error(t, byID["t.py::a"].Attempts[0].ResultErr, "the fake log holds no results block")

	k.mu.Lock()
	assert.LessOrEqual(t, k.maxRunning, 2, "parallelism cap")
	assert.Len(t, k.createdPods, 8, "6 first attempts and 2 retries")
	k.mu.Unlock()
	assert.Len(t, seen, 8)

	left, err := client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, left.Items, "collected pods are deleted")

	rep := report.NewReport("r1", "img", "sha256:abc", time.Now(), time.Second, results)
	c := rep.Counts()
	assert.Equal(t, report.Counts{Total: 6, Passed: 5, Failed: 1, Flaky: 1}, c)
	assert.Equal(t, 1, rep.ExitCode(0, 1, 2))
}

func TestRunCancelReturnsPartialResults(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 20 * time.Millisecond, exit: func(id string, _ int) int32 {
		if id == "t.py::slow" {
			<-ctx.Done() // runs until the run is cancelled
		}
		return 0
	}}
	k.start(ctx)
	done := make(chan struct{})
	var results []report.CaseResult
	var err error
	go func() {
		defer close(done)
		results, err = Run(ctx, Options{
			Client: client, Namespace: "ns", RunID: "r2", Image: "img",
			Cases: cases("t.py::fast", "t.py::slow"), Parallelism: 1, Resync: 10 * time.Millisecond,
		})
	}()
	require.Eventually(t, func() bool {
		p, err := client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
		return err == nil && len(p.Items) == 1 && p.Items[0].Annotations[k8s.AnnotationTestID] == "t.py::slow"
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, results, 2)
	assert.Equal(t, plan.Passed, results[0].Status)
	assert.Empty(t, results[1].Attempts)
	rep := report.NewReport("r2", "img", "", time.Now(), time.Second, results)
	assert.Equal(t, 1, rep.Counts().NotRun)
	assert.Equal(t, 2, rep.ExitCode(0, 1, 2))
}

// TestRunNativeCollectorEndsAtTestExit: with a native collector held
// running, an attempt ends when the test container exits; the runner does
// not wait for the kubelet to stop the collector, and deleting the pod stops
// it.
func TestRunNativeCollectorEndsAtTestExit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 20 * time.Millisecond, hold: true, exit: func(id string, _ int) int32 {
		if id == "t.py::fails" {
			return 1
		}
		return 0
	}}
	k.start(ctx)
	clk := newJumpClock()
	start := clk.Now()
	results, err := Run(ctx, Options{
		Client: client, Namespace: "ns", RunID: "r3", Image: "img", NativeSidecar: true,
		Cases: cases("t.py::passes", "t.py::fails"), Parallelism: 2, Resync: 20 * time.Millisecond,
		clock: clk,
	})
	require.NoError(t, err)
	require.Len(t, results, 2)
	assert.Equal(t, plan.Passed, results[0].Status)
	assert.Equal(t, plan.Failed, results[1].Status)
	for _, r := range results {
		require.Len(t, r.Attempts, 1)
		// The fake log never holds a block: the runner read it again for a
		// bounded while, then kept the outcome.
		assert.ErrorIs(t, r.Attempts[0].ResultErr, transport.ErrNoBlock)
	}
	assert.GreaterOrEqual(t, clk.Since(start), attempt.BlockWait, "the reads were paced by the run's clock, to their bound")
	left, err := client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, left.Items)
}

func TestRunCreatesWhileLogReadsHang(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	release := make(chan struct{})
	k := &kubelet{t: t, client: client, run: 10 * time.Millisecond, exit: func(string, int) int32 { return 0 }}
	k.start(ctx)

	ids := []string{"t.py::a", "t.py::b", "t.py::c", "t.py::d", "t.py::e", "t.py::f"}
	type result struct {
		res []report.CaseResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Run(ctx, Options{Client: hangingLogs{client, release}, Namespace: "ns", RunID: "r1", Image: "img",
			Cases: cases(ids...), Parallelism: 2, Workers: 2, Resync: 20 * time.Millisecond})
		done <- result{res, err}
	}()
	// Every log read hangs, and more pods end than there are readers: the
	// run must still create every pod.
	require.Eventually(t, func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return len(k.createdPods) == len(ids)
	}, 10*time.Second, 10*time.Millisecond, "pods are created while the log reads of finished ones hang")
	close(release)
	r := <-done
	require.NoError(t, r.err)
	require.Len(t, r.res, len(ids))
	for _, cr := range r.res {
		assert.Equal(t, plan.Passed, cr.Status, cr.Case.TestID)
		require.Len(t, cr.Attempts, 1)
		tl := cr.Attempts[0].Timeline
		assert.False(t, tl.Created.IsZero(), "created is recorded")
		assert.False(t, tl.Seen.IsZero(), "seen is recorded")
		assert.False(t, tl.Collected.Before(tl.Seen), "collected after seen")
		assert.False(t, tl.Deleted.IsZero(), "deleted is recorded")
	}
	k.mu.Lock()
	assert.LessOrEqual(t, k.maxRunning, 2, "parallelism cap")
	k.mu.Unlock()
}

func TestRunUnits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 10 * time.Millisecond, exit: func(string, int) int32 { return 0 }}
	k.start(ctx)
	cs := cases("a.py::x", "a.py::y", "b.py::x", "b.py::y", "c.py::x")
	units := []plan.Unit{
		{ID: "ua", Cases: []string{cs[0].ID, cs[1].ID}},
		{ID: "ub", Cases: []string{cs[2].ID, cs[3].ID}},
	}
	var mu sync.Mutex
	var seen []string
	res, err := Run(ctx, Options{Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases: cs, Units: units, Parallelism: 4, Resync: 20 * time.Millisecond,
		OnAttempt: func(c plan.Case, a attempt.Attempt) {
			mu.Lock()
			seen = append(seen, c.TestID)
			mu.Unlock()
		}})
	require.NoError(t, err)
	require.Len(t, res, 5)
	for _, cr := range res {
		assert.Equal(t, plan.Passed, cr.Status, "a pod that exits 0 passed every test it ran: %s", cr.Case.TestID)
		require.Len(t, cr.Attempts, 1)
		assert.Equal(t, 1, cr.Attempts[0].Number)
	}
	k.mu.Lock()
	assert.ElementsMatch(t, []string{"ktr-r1-ua-1", "ktr-r1-ub-1", "ktr-r1-" + cs[4].ID + "-1"}, k.createdPods, "one pod per unit, one for the case no unit names")
	k.mu.Unlock()
	assert.ElementsMatch(t, []string{"a.py::x", "a.py::y", "b.py::x", "b.py::y", "c.py::x"}, seen, "each test is reported once")
}

// hangingLogs is a clientset whose log reads wait for release.
type hangingLogs struct {
	kubernetes.Interface
	release chan struct{}
}

// IsWatchListSemanticsUnSupported passes on the fake clientset's answer, so
// its informers list and watch rather than wait for a watch list.
func (h hangingLogs) IsWatchListSemanticsUnSupported() bool { return true }

func (h hangingLogs) CoreV1() corev1client.CoreV1Interface {
	return hangingCore{h.Interface.CoreV1(), h.release}
}

type hangingCore struct {
	corev1client.CoreV1Interface
	release chan struct{}
}

func (h hangingCore) Pods(namespace string) corev1client.PodInterface {
	return hangingPods{h.CoreV1Interface.Pods(namespace), h.release}
}

type hangingPods struct {
	corev1client.PodInterface
	release chan struct{}
}

func (h hangingPods) GetLogs(name string, opts *corev1.PodLogOptions) *restclient.Request {
	<-h.release
	return h.PodInterface.GetLogs(name, opts)
}

func TestDecisionGap(t *testing.T) {
	assert.Zero(t, decisionGap(999), "a small run decides on each event")
	assert.Equal(t, 5*time.Millisecond, decisionGap(1000))
	assert.Equal(t, 25*time.Millisecond, decisionGap(5000))
	assert.Equal(t, 50*time.Millisecond, decisionGap(10000))
	assert.Equal(t, 50*time.Millisecond, decisionGap(100000), "capped")
}

// TestRunTellsOfRunningPods checks OnPod: each pod is heard of once as
// running, with its test, and once as ended, and no more pods run at once
// than the parallelism.
func TestRunTellsOfRunningPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 100 * time.Millisecond, showRunning: true, exit: func(string, int) int32 { return 0 }}
	k.start(ctx)

	ids := []string{"t.py::a", "t.py::b", "t.py::c", "t.py::d", "t.py::e"}
	var events []PodEvent
	running, most := map[string]bool{}, 0
	_, err := Run(ctx, Options{
		Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases: cases(ids...), Parallelism: 2, MaxAttempts: 1, Resync: 20 * time.Millisecond,
		OnPod: func(e PodEvent) {
			events = append(events, e)
			if e.Running {
				running[e.Pod] = true
			} else {
				delete(running, e.Pod)
			}
			most = max(most, len(running))
		},
	})
	require.NoError(t, err)
	starts, ends := map[string]int{}, map[string]int{}
	var tests []string
	for _, e := range events {
		if e.Running {
			starts[e.Pod]++
			tests = append(tests, e.Tests...)
			assert.False(t, e.Started.IsZero(), "a running pod says when its test started")
		} else {
			ends[e.Pod]++
		}
	}
	assert.ElementsMatch(t, ids, tests, "each test's pod was heard of as running")
	assert.Len(t, starts, len(ids))
	for pod, n := range starts {
		assert.Equal(t, 1, n, "%s heard of as running once", pod)
		assert.Equal(t, 1, ends[pod], "%s heard of as ended once", pod)
	}
	assert.Empty(t, running, "every pod ended")
	assert.LessOrEqual(t, most, 2, "no more running than the parallelism")
	assert.Positive(t, most)
}

func TestRunMatrixRunsEachCaseInItsBaseImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 10 * time.Millisecond, exit: func(string, int) int32 { return 0 }}
	k.start(ctx)

	var all []plan.Case
	images := []string{"reg/t:py311", "reg/t:py313"}
	for b, img := range images {
		for _, id := range []string{"t.py::a", "t.py::b"} {
			all = append(all, plan.Case{ID: testid.BaseCaseID(id, b), TestID: id, Base: b, Image: img})
		}
	}
	results, err := Run(ctx, Options{
		Client: client, Namespace: "ns", RunID: "r1", Image: images[0],
		Cases: all, Units: plan.GroupBases(all, plan.Grouping{}), Parallelism: 3, Resync: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	require.Len(t, results, 4)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range results {
		assert.Equal(t, plan.Passed, r.Status, r.Case.TestID)
		assert.Equal(t, images[r.Case.Base], k.images[r.Case.ID], "%s on base %d", r.Case.TestID, r.Case.Base)
	}
	assert.Len(t, k.createdPods, 4, "each test once per base")
}

// Each evaluation is shown the pods in flight, not every pod the run
// collected: a settled pod is shown until the watch sees it gone, then left
// out, and its outcome still counts.
func TestRunEvaluatesPodsInFlightOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 5 * time.Millisecond, exit: func(id string, attempt int) int32 {
		if id == "t.py::t7" && attempt == 1 {
			return 1
		}
		return 0
	}}
	k.start(ctx)

	ids := make([]string, 90)
	for i := range ids {
		ids[i] = fmt.Sprint("t.py::t", i)
	}
	most, evaluations := 0, 0
	results, err := Run(ctx, Options{
		Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases: cases(ids...), Parallelism: 3, MaxAttempts: 2, Resync: 20 * time.Millisecond,
		evaluated: func(pods []plan.Pod) {
			evaluations++
			most = max(most, len(pods))
		},
	})
	require.NoError(t, err)
	require.Len(t, results, len(ids))
	for _, r := range results {
		assert.True(t, r.Final, r.Case.TestID)
		assert.Equal(t, plan.Passed, r.Status, r.Case.TestID)
	}
	assert.True(t, results[7].Flaky)
	assert.Len(t, results[7].Attempts, 2)
	// Of a result error the run keeps the text and the transport error.
	kept := results[0].Attempts[0].ResultErr
	var asKept *keptError
	assert.ErrorAs(t, kept, &asKept)
	assert.ErrorIs(t, kept, transport.ErrNoBlock)
	t.Logf("%d evaluations, at most %d pods in one", evaluations, most)
	assert.Greater(t, evaluations, 20)
	// In flight: 3 running, and those done but not yet collected or gone,
	// which only a slow machine makes many; every pod of the run is 91.
	assert.LessOrEqual(t, most, 30, "pods shown to one evaluation, at parallelism 3")
}
