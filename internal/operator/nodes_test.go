package operator

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s/k8stest"

	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

func readyNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"},
	}}}
}

// nodes gives e's reconcilers a watch of the nodes "doomed" and "spare",
// on e's clock, and returns a function that turns "doomed" not ready,
// waiting until the watch has seen it. Attempts on "doomed" are collected
// by attempt.Collect itself, which must not read the logs of a lost pod.
func (e *env) nodes(ctx context.Context) (*k8s.NodeWatcher, func()) {
	e.t.Helper()
	kube := kfake.NewClientset(readyNode("doomed"), readyNode("spare"))
	watching := k8stest.NodeWatchStarted(kube)
	nw, err := k8s.NewNodeWatcher(kube, func() time.Time { return e.now })
	require.NoError(e.t, err)
	require.NoError(e.t, nw.Start(ctx))
	select {
	case <-watching:
	case <-ctx.Done():
		e.t.Fatal("the node watch never started")
	}
	e.t.Cleanup(nw.Shutdown)
	e.runs.Nodes, e.cases.Nodes = nw, nw
	for _, r := range []*CollectFunc{&e.runs.Collect, &e.cases.Collect} {
		stub := *r
		*r = func(ctx context.Context, pod *corev1.Pod, number int, opts k8s.ObserveOptions) (attempt.Attempt, []byte) {
			if pod.Spec.NodeName == "doomed" {
				return attempt.Collect(ctx, kube, pod, number, opts)
			}
			return stub(ctx, pod, number, opts)
		}
	}
	return nw, func() {
		n := readyNode("doomed")
		n.Status.Conditions[0].Status, n.Status.Conditions[0].Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
		_, err := kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		require.NoError(e.t, err)
		select {
		case <-nw.Changed():
		case <-ctx.Done():
			e.t.Fatal("the watch never saw the node go")
		}
	}
}

// place plays the scheduler and the kubelet: pod runs on node.
func (e *env) place(name, node string) {
	e.t.Helper()
	pod := &corev1.Pod{}
	require.NoError(e.t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pod))
	pod.Spec.NodeName = node
	require.NoError(e.t, e.client.Update(context.Background(), pod))
	e.start(name)
}

// TestCaseOnLostNodeRunsAgain: a test whose pod runs on a node gone not
// ready keeps it until the run's nodeLostAfter has passed (10s or 60s
// here), then its attempt is recorded as NodeLost without results, the pod
// is deleted at once, and the test runs again as an infrastructure retry
// (no test retries are left); the test on the healthy node is untouched.
func TestCaseOnLostNodeRunsAgain(t *testing.T) {
	for _, window := range []time.Duration{10 * time.Second, 60 * time.Second} {
		t.Run(window.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e := newEnv(t, testRun("r1", withTests(sampleIDs[0], sampleIDs[1]), func(r *v1alpha1.TestRun) {
				r.Spec.NodeLostAfter = &metav1.Duration{Duration: window}
			}))
			_, nodeGoes := e.nodes(ctx)
			started(t, e, "r1")
			lost, healthy := podName("r1", sampleIDs[0], 1), podName("r1", sampleIDs[1], 1)
			e.place(lost, "doomed")
			e.place(healthy, "spare")
			nodeGoes()

			name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
			e.now = e.now.Add(window - time.Second)
			e.reconcileCase(name)
			assert.Empty(t, e.testCase("r1", sampleIDs[0]).Status.History, "the node has not been down for %s yet", window)

			e.now = e.now.Add(2 * time.Second)
			e.reconcileCase(name)
			tc := e.testCase("r1", sampleIDs[0])
			require.Len(t, tc.Status.History, 1)
			first := tc.Status.History[0]
			assert.Equal(t, plan.ReasonNodeLost, first.Reason)
			assert.Equal(t, "error", first.Status)
			assert.Equal(t, "doomed", first.Node)
			assert.Contains(t, first.Message, "node doomed has been Ready=Unknown (NodeStatusUnknown)")
			assert.Equal(t, "results not read: the pod's node is lost", first.ResultsError)
			assert.Equal(t, v1alpha1.CaseRunning, tc.Status.Phase, "an infrastructure retry is to come")

			e.reconcileCase(name)
			for _, p := range e.pods() {
				assert.NotEqual(t, lost, p.Name, "the lost pod is deleted")
			}
			e.reconcileRun("r1")
			retry := podName("r1", sampleIDs[0], 2)
			e.place(retry, "spare")
			e.finish(retry, 0, false)
			e.finish(healthy, 0, false)
			e.reconcileCases("r1")
			e.reconcileCases("r1")
			e.reconcileRun("r1")
			tc = e.testCase("r1", sampleIDs[0])
			assert.Equal(t, v1alpha1.CasePassed, tc.Status.Phase)
			assert.False(t, tc.Status.Flaky, "a lost node does not make a test flaky")
			require.Len(t, tc.Status.History, 2)
			other := e.testCase("r1", sampleIDs[1])
			assert.Equal(t, v1alpha1.CasePassed, other.Status.Phase)
			assert.Len(t, other.Status.History, 1)
			assert.Equal(t, v1alpha1.RunSucceeded, e.run("r1").Status.Phase)
		})
	}
}

// TestRunUnitOnLostNodeRunsAgain: a unit's pod (one file's tests) on a
// lost node ends as NodeLost after the default window; its tests run again
// in a new pod of the unit.
func TestRunUnitOnLostNodeRunsAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0], sampleIDs[1]), withGrouping(plan.PerFile, 0)))
	_, nodeGoes := e.nodes(ctx)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pods := e.runPods("r1")
	require.Len(t, pods, 1)
	first := pods[0].Name
	e.place(first, "doomed")
	nodeGoes()

	e.now = e.now.Add(20 * time.Second)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	require.Equal(t, []string{first}, names(e.runPods("r1")), "20s is within the default 30s")
	e.now = e.now.Add(15 * time.Second)
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	for _, id := range sampleIDs[:2] {
		tc := e.testCase("r1", id)
		require.NotEmpty(t, tc.Status.History, id)
		assert.Equal(t, plan.ReasonNodeLost, tc.Status.History[0].Reason, id)
	}
	second := e.runPods("r1")
	require.Len(t, second, 1, "the unit runs again, the lost pod is gone")
	assert.NotEqual(t, first, second[0].Name)
}

func names(pods []corev1.Pod) []string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// TestNodeWakerSendsThePodsOfDownNodes: the waker sends each running pod
// of a node not ready to both reconcilers, and nothing while every node is
// ready.
func TestNodeWakerSendsThePodsOfDownNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := newEnv(t, testRun("r1", withTests(sampleIDs...)))
	nw, nodeGoes := e.nodes(ctx)
	started(t, e, "r1")
	e.place(podName("r1", sampleIDs[0], 1), "doomed")
	e.place(podName("r1", sampleIDs[1], 1), "spare")
	w := newNodeWaker(nw, e.client)
	w.wake(ctx)
	assert.Empty(t, w.runs, "no node is down")
	nodeGoes()
	w.wake(ctx)
	got := func(ch chan event.GenericEvent) []string {
		var out []string
		for len(ch) > 0 {
			out = append(out, (<-ch).Object.GetName())
		}
		return out
	}
	assert.Equal(t, []string{podName("r1", sampleIDs[0], 1)}, got(w.runs))
	assert.Equal(t, []string{podName("r1", sampleIDs[0], 1)}, got(w.cases))
	pod := &corev1.Pod{}
	require.NoError(t, e.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: podName("r1", sampleIDs[0], 1)}, pod))
	assert.Equal(t, []string{TestCaseName("r1", testid.CaseID(sampleIDs[0]))}, requestNames(casesOfPod(ctx, pod)))
	assert.Equal(t, []string{"r1"}, requestNames(runOfPod(ctx, pod)))
}

func requestNames[R interface{ String() string }](reqs []R) []string {
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		s := r.String()
		out = append(out, s[len(ns)+1:])
	}
	return out
}

// TestOperatorWithoutNodeRights: an operator that may not list nodes goes
// on without the watch, and says so in one line; with the right, it
// watches.
func TestOperatorWithoutNodeRights(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lines []string
	log := funcr.New(func(prefix, args string) { lines = append(lines, prefix+args) }, funcr.Options{})

	kube := kfake.NewClientset(readyNode("n1"))
	kube.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", nil)
	})
	assert.Nil(t, watchNodes(ctx, kube, log))
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], "not watching nodes: a lost node's pods end only when the cluster evicts them")
	assert.Contains(t, lines[0], "forbidden")
	assert.Nil(t, nodeLossOf(testRun("r1"), nil), "no watch, no node loss")

	lines = nil
	nw := watchNodes(ctx, kfake.NewClientset(readyNode("n1")), log)
	require.NotNil(t, nw)
	defer nw.Shutdown()
	assert.Empty(t, lines)
	loss := nodeLossOf(testRun("r1"), nw)
	require.NotNil(t, loss)
	assert.Equal(t, k8s.DefaultNodeLostAfter, loss.After, "the default window when the TestRun names none")
}
