package operator

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

const ns = "ns"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is an operator against controller-runtime's fake client, with a
// clock the test moves.
type env struct {
	t        *testing.T
	client   client.WithWatch
	recorder *events.FakeRecorder
	runs     *TestRunReconciler
	cases    *TestCaseReconciler
	now      time.Time

	mu      sync.Mutex
	created map[string]int // pod creations by name
	// logs are the collector logs by pod name; absent means a block made
	// from the pod's exit code.
	logs map[string][]byte
	// discovery is the discovery pod's log.
	discovery string
	// shared are the TestCases listed without a copy, as the run
	// reconciler lists them from the cache, each beside a copy taken
	// when it was listed: nothing may change them.
	shared []sharedCase
}

type sharedCase struct{ listed, was *v1alpha1.TestCase }

func newEnv(t *testing.T, objs ...client.Object) *env {
	t.Helper()
	scheme, err := Scheme()
	require.NoError(t, err)
	e := &env{t: t, now: t0, created: map[string]int{}, logs: map[string][]byte{}, recorder: events.NewFakeRecorder(1000)}
	e.client = fake.NewClientBuilder().
		WithScheme(scheme).
		WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.TestRun{}, &v1alpha1.TestCase{}).
		WithInterceptorFuncs(interceptor.Funcs{
			// The fake client sets no UID, and owner references need one.
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if obj.GetUID() == "" {
					obj.SetUID(uuid.NewUUID())
				}
				if ts := obj.GetCreationTimestamp(); ts.IsZero() {
					obj.SetCreationTimestamp(metav1.NewTime(e.now))
				}
				err := c.Create(ctx, obj, opts...)
				if _, ok := obj.(*corev1.Pod); ok && err == nil {
					e.mu.Lock()
					e.created[obj.GetName()]++
					e.mu.Unlock()
				}
				return err
			},
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				err := c.List(ctx, list, opts...)
				lo := (&client.ListOptions{}).ApplyOptions(opts)
				if l, ok := list.(*v1alpha1.TestCaseList); ok && err == nil && lo.UnsafeDisableDeepCopy != nil && *lo.UnsafeDisableDeepCopy {
					e.mu.Lock()
					for i := range l.Items {
						e.shared = append(e.shared, sharedCase{&l.Items[i], l.Items[i].DeepCopy()})
					}
					e.mu.Unlock()
				}
				return err
			},
		}).
		Build()
	// The cache's own objects are shared by every reader: a change made to
	// one would be seen by all and never reach the API server.
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, sc := range e.shared {
			if !equality.Semantic.DeepEqual(sc.listed, sc.was) {
				t.Errorf("TestCase %s, listed from the cache without a copy, was changed", sc.was.Name)
			}
		}
	})
	clock := func() time.Time { return e.now }
	memory := &podMemory{}
	e.runs = &TestRunReconciler{Client: e.client, APIReader: e.client, Recorder: e.recorder, Now: clock, NativeSidecar: true,
		Logs: func(context.Context, string, string, string) ([]byte, error) { return []byte(e.discovery), nil }, Collect: e.collect, memory: memory}
	// RunningAfter -1: a test is written Running as soon as its pod runs,
	// which the tests that move the clock by hand expect.
	e.cases = &TestCaseReconciler{Client: e.client, APIReader: e.client, Recorder: e.recorder, Now: clock, NativeSidecar: true, Collect: e.collect, memory: memory, RunningAfter: -1}
	return e
}

// restart replaces the reconcilers with new ones, as a new operator
// process would: nothing kept in memory survives.
func (e *env) restart() {
	memory := &podMemory{}
	e.runs = &TestRunReconciler{Client: e.runs.Client, APIReader: e.runs.APIReader, Recorder: e.recorder, Now: e.runs.Now, NativeSidecar: true, Logs: e.runs.Logs, Collect: e.collect, memory: memory}
	e.cases = &TestCaseReconciler{Client: e.cases.Client, APIReader: e.cases.APIReader, Recorder: e.recorder, Now: e.cases.Now, NativeSidecar: true, Collect: e.collect, memory: memory, RunningAfter: e.cases.RunningAfter}
}

// collect stands for attempt.Collect: the outcome from the pod, the
// results from the log the test set, or from a block built for the exit
// code.
func (e *env) collect(_ context.Context, pod *corev1.Pod, number int, opts k8s.ObserveOptions) (attempt.Attempt, []byte) {
	obs := k8s.Observe(pod, e.now, opts)
	at := attempt.Attempt{Number: number, Pod: pod.Name, PodUID: string(pod.UID), Node: pod.Spec.NodeName, Outcome: obs.Outcome}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == k8s.TestContainer && cs.State.Terminated != nil {
			at.Started, at.Finished = cs.State.Terminated.StartedAt.Time, cs.State.Terminated.FinishedAt.Time
		}
	}
	log, ok := e.logs[pod.Name]
	if !ok {
		log = block(e.t, pod.Annotations[k8s.AnnotationTestID], obs.Outcome.ExitCode)
	}
	at.Results, at.ResultErr = attempt.ParseResults(log)
	at.Outcome = attempt.Settle(at.Outcome, at.Results)
	return at, log
}

// block is what a collector ships for a test that exited with code.
func block(t *testing.T, testID string, code int32) []byte {
	t.Helper()
	file, name, _ := strings.Cut(testID, "::")
	verdict := ""
	if code == 1 {
		verdict = `<failure message="AssertionError: expected three apples">assert 1 == 3</failure>`
	}
	xml := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="1"><testcase classname="%s" name="%s" file="%s" line="3" time="0.010">%s</testcase></testsuite></testsuites>`,
		strings.TrimSuffix(strings.ReplaceAll(file, "/", "."), ".py"), name, file, verdict)
	var buf bytes.Buffer
	require.NoError(t, transport.Encode(&buf, []transport.File{
		{Name: "junit.xml", Data: []byte(xml)},
		{Name: "output.txt", Data: []byte("output of " + testID + "\n")},
		{Name: "exitcode", Data: fmt.Appendf(nil, "%d\n", code)},
	}, 1<<20))
	return buf.Bytes()
}

func testRun(name string, mutate ...func(*v1alpha1.TestRun)) *v1alpha1.TestRun {
	run := &v1alpha1.TestRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0)},
		Spec: v1alpha1.TestRunSpec{
			Image:       "registry.test/sample@sha256:0123",
			Parallelism: 2,
			Timeout:     &metav1.Duration{Duration: time.Minute},
		},
	}
	for _, m := range mutate {
		m(run)
	}
	return run
}

// reconcileRun reconciles the run as the woken controller would: a log
// read the reconcile started ends and wakes it again, which records it.
func (e *env) reconcileRun(name string) ctrl.Result {
	e.t.Helper()
	return e.reconcileAfterReads(&e.runs.reads, e.runs.Reconcile, name)
}

// reconcileCase reconciles the test as reconcileRun does the run.
func (e *env) reconcileCase(name string) ctrl.Result {
	e.t.Helper()
	return e.reconcileAfterReads(&e.cases.reads, e.cases.Reconcile, name)
}

func (e *env) reconcileAfterReads(r *reads, reconcile func(context.Context, ctrl.Request) (ctrl.Result, error), name string) ctrl.Result {
	e.t.Helper()
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}
	res, err := reconcile(context.Background(), req)
	require.NoError(e.t, err)
	for range 3 {
		if !r.wait() {
			break
		}
		res, err = reconcile(context.Background(), req)
		require.NoError(e.t, err)
	}
	return res
}

func (e *env) reconcileCases(run string) {
	e.t.Helper()
	for _, tc := range e.testCases(run) {
		e.reconcileCase(tc.Name)
	}
}

func (e *env) run(name string) *v1alpha1.TestRun {
	e.t.Helper()
	run := &v1alpha1.TestRun{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, run))
	return run
}

func (e *env) testCases(run string) []v1alpha1.TestCase {
	e.t.Helper()
	list := &v1alpha1.TestCaseList{}
	require.NoError(e.t, e.client.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{k8s.LabelRun: run}))
	return list.Items
}

func (e *env) testCase(run, testID string) *v1alpha1.TestCase {
	e.t.Helper()
	tc := &v1alpha1.TestCase{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: TestCaseName(run, testid.CaseID(testID))}, tc))
	return tc
}

func (e *env) pods() []corev1.Pod {
	e.t.Helper()
	list := &corev1.PodList{}
	require.NoError(e.t, e.client.List(context.Background(), list, client.InNamespace(ns)))
	return list.Items
}

// finish plays the kubelet for one pod: its test container exited with
// code and, unless collectorRuns, the pod ended.
func (e *env) finish(name string, code int32, collectorRuns bool) {
	e.t.Helper()
	pod := &corev1.Pod{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pod))
	if pod.Spec.NodeName == "" {
		pod.Spec.NodeName = "node-1"
		require.NoError(e.t, e.client.Update(context.Background(), pod))
	}
	started := metav1.NewTime(e.now.Add(-time.Second))
	pod.Status.StartTime = &started
	term := &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: started, FinishedAt: metav1.NewTime(e.now)}
	collector := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}
	pod.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		pod.Status.Phase = corev1.PodFailed
	}
	if collectorRuns {
		pod.Status.Phase = corev1.PodRunning
		collector = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: k8s.TestContainer, State: corev1.ContainerState{Terminated: term}},
		{Name: k8s.CollectorContainer, State: collector},
	}
	// Pods have a status subresource: a plain update leaves status alone.
	require.NoError(e.t, e.client.Status().Update(context.Background(), pod))
}

// start plays the kubelet starting a pod.
func (e *env) start(name string) {
	e.t.Helper()
	pod := &corev1.Pod{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pod))
	started := metav1.NewTime(e.now)
	pod.Status.StartTime = &started
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: k8s.TestContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}},
		{Name: k8s.CollectorContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}},
	}
	require.NoError(e.t, e.client.Status().Update(context.Background(), pod))
}

func (e *env) events() []string {
	var out []string
	for {
		select {
		case ev := <-e.recorder.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}
