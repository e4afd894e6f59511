package runner

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

func readyNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"},
	}}}
}

// setReady turns node's Ready condition to status, as the node controller
// or a kubelet would.
func setReady(ctx context.Context, t *testing.T, client *fake.Clientset, node string, status corev1.ConditionStatus) {
	n := readyNode(node)
	n.Status.Conditions[0].Status = status
	if status != corev1.ConditionTrue {
		n.Status.Conditions[0].Reason = "NodeStatusUnknown"
	}
	_, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// nodeKubelet plays two nodes. The first attempt of each test in stuck is
// placed on node "doomed" and runs there until the test ends it (its node
// goes away, or the test lets it finish through release); every other pod
// runs on node "spare" and passes at once. started receives the name of
// each pod placed on "doomed" once it runs.
type nodeKubelet struct {
	stuck   map[string]bool
	started chan string
	release chan struct{}

	mu     sync.Mutex
	onNode map[string]string
}

func (k *nodeKubelet) node(pod string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.onNode[pod]
}

func (k *nodeKubelet) run(ctx context.Context, t *testing.T, client *fake.Clientset) {
	k.onNode = map[string]string{}
	w, err := client.CoreV1().Pods("ns").Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	placed := map[string]bool{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			pod := ev.Object.(*corev1.Pod).DeepCopy()
			id := pod.Annotations[k8s.AnnotationTestID]
			node := "spare"
			if k.stuck[id] && !placed[id] {
				placed[id], node = true, "doomed"
			}
			k.mu.Lock()
			k.onNode[pod.Name] = node
			k.mu.Unlock()
			pod.Spec.NodeName = node
			pod.Status.Phase = corev1.PodRunning
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: k8s.TestContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
			if _, err := client.CoreV1().Pods("ns").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				continue
			}
			finish := func(pod *corev1.Pod) {
				pod.Status.Phase = corev1.PodSucceeded
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: k8s.TestContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
				_, _ = client.CoreV1().Pods("ns").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
			}
			if node == "doomed" {
				k.started <- pod.Name
				go func(pod *corev1.Pod) {
					select {
					case <-ctx.Done():
					case <-k.release:
						finish(pod)
					}
				}(pod)
				continue
			}
			finish(pod)
		}
	}()
}

// deletions counts the deletes of each pod, with their grace periods.
func deletions(client *fake.Clientset) map[string][]int64 {
	out := map[string][]int64{}
	for _, a := range client.Actions() {
		d, ok := a.(k8stesting.DeleteActionImpl)
		if !ok || d.GetResource().Resource != "pods" {
			continue
		}
		g := int64(-1)
		if d.DeleteOptions.GracePeriodSeconds != nil {
			g = *d.DeleteOptions.GracePeriodSeconds
		}
		out[d.Name] = append(out[d.Name], g)
	}
	return out
}

// TestRunNodeLost: a node turns NotReady while two tests run there; after
// NodeLostAfter their pods end as NodeLost, are deleted at once, and the
// tests run again on the other node and pass, as infrastructure retries
// (MaxAttempts 1: no test retry is left). The tests on the healthy node
// are untouched.
func TestRunNodeLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset(readyNode("doomed"), readyNode("spare"))
	k := &nodeKubelet{stuck: map[string]bool{"t.py::a": true, "t.py::b": true}, started: make(chan string, 2), release: make(chan struct{})}
	k.run(ctx, t, client)
	changed := make(chan time.Time, 1)
	go func() {
		<-k.started
		<-k.started
		changed <- time.Now()
		setReady(ctx, t, client, "doomed", corev1.ConditionUnknown)
	}()
	const after = 300 * time.Millisecond
	var lostAt time.Time
	res, err := Run(ctx, Options{Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases:       cases("t.py::a", "t.py::b", "t.py::c", "t.py::d"),
		Parallelism: 4, MaxAttempts: 1, InfraRetries: 2, Resync: 20 * time.Millisecond, NodeLostAfter: after,
		OnAttempt: func(_ plan.Case, at attempt.Attempt) {
			if at.Outcome.Reason == plan.ReasonNodeLost && lostAt.IsZero() {
				lostAt = time.Now()
			}
		}})
	require.NoError(t, err)
	dels := deletions(client)
	for _, cr := range res {
		id := cr.Case.TestID
		assert.Equal(t, plan.Passed, cr.Status, id)
		assert.False(t, cr.Flaky, id)
		if id == "t.py::c" || id == "t.py::d" {
			require.Len(t, cr.Attempts, 1, id)
			assert.Equal(t, "spare", cr.Attempts[0].Node, id)
			continue
		}
		require.Len(t, cr.Attempts, 2, id)
		first, second := cr.Attempts[0], cr.Attempts[1]
		assert.Equal(t, plan.ReasonNodeLost, first.Outcome.Reason, id)
		assert.True(t, first.Outcome.Disrupted(), id)
		assert.Contains(t, first.Outcome.Message, "node doomed has been Ready=Unknown (NodeStatusUnknown)", id)
		assert.Equal(t, "doomed", first.Node, id)
		assert.Equal(t, "spare", k.node(second.Pod), id)
		assert.Equal(t, []int64{0}, dels[first.Pod], "the lost pod is deleted once, with grace 0: %s", id)
	}
	rep := report.NewReport("r1", "img", "", time.Now(), time.Second, res)
	assert.Equal(t, 4, rep.Counts().Passed)
	require.False(t, lostAt.IsZero())
	took := lostAt.Sub(<-changed)
	t.Logf("node change to pods ended: %s (NodeLostAfter %s)", took, after)
	assert.GreaterOrEqual(t, took, after, "not before the node has been down for NodeLostAfter")
	assert.Less(t, took, after+2*time.Second)
}

// TestRunNodeRecovers: a node that is NotReady for less than NodeLostAfter
// keeps its pods; the test there finishes with its own verdict, once.
func TestRunNodeRecovers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset(readyNode("doomed"), readyNode("spare"))
	k := &nodeKubelet{stuck: map[string]bool{"t.py::a": true}, started: make(chan string, 1), release: make(chan struct{})}
	k.run(ctx, t, client)
	go func() {
		<-k.started
		setReady(ctx, t, client, "doomed", corev1.ConditionFalse)
		time.Sleep(300 * time.Millisecond)
		setReady(ctx, t, client, "doomed", corev1.ConditionTrue)
		// Well past NodeLostAfter since the node went down.
		time.Sleep(2 * time.Second)
		close(k.release)
	}()
	res, err := Run(ctx, Options{Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases: cases("t.py::a"), Parallelism: 1, MaxAttempts: 1, InfraRetries: 2, Resync: 20 * time.Millisecond, NodeLostAfter: time.Second})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Len(t, res[0].Attempts, 1, "no retry: the node came back in time")
	assert.Equal(t, plan.Passed, res[0].Status)
	assert.Equal(t, "doomed", res[0].Attempts[0].Node)
}

// TestRunNodeFlaps: a node whose Ready condition flaps, for longer than
// NodeLostAfter in all but never that long at a stretch, keeps its pod;
// once it stays down (its condition still moving between Unknown and
// False), the pod ends once, NodeLostAfter after the outage began: one
// NodeLost attempt, one delete, one retry.
func TestRunNodeFlaps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset(readyNode("doomed"), readyNode("spare"))
	k := &nodeKubelet{stuck: map[string]bool{"t.py::a": true}, started: make(chan string, 1), release: make(chan struct{})}
	k.run(ctx, t, client)
	const after = 400 * time.Millisecond
	down := make(chan time.Time, 1)
	go func() {
		<-k.started
		for range 4 {
			setReady(ctx, t, client, "doomed", corev1.ConditionUnknown)
			time.Sleep(after / 4)
			setReady(ctx, t, client, "doomed", corev1.ConditionTrue)
			time.Sleep(after / 4)
		}
		down <- time.Now()
		for range 10 {
			setReady(ctx, t, client, "doomed", corev1.ConditionUnknown)
			time.Sleep(after / 4)
			setReady(ctx, t, client, "doomed", corev1.ConditionFalse)
			time.Sleep(after / 4)
		}
	}()
	var lostAt []time.Time
	res, err := Run(ctx, Options{Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases: cases("t.py::a"), Parallelism: 1, MaxAttempts: 1, InfraRetries: 2, Resync: 20 * time.Millisecond, NodeLostAfter: after,
		OnAttempt: func(_ plan.Case, at attempt.Attempt) {
			if at.Outcome.Reason == plan.ReasonNodeLost {
				lostAt = append(lostAt, time.Now())
			}
		}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	cr := res[0]
	require.Len(t, cr.Attempts, 2, "one lost attempt, one retry")
	assert.Equal(t, plan.ReasonNodeLost, cr.Attempts[0].Outcome.Reason)
	assert.Equal(t, plan.Passed, cr.Attempts[1].Outcome.Status)
	assert.Equal(t, plan.Passed, cr.Status)
	assert.Equal(t, []int64{0}, deletions(client)[cr.Attempts[0].Pod])
	require.Len(t, lostAt, 1)
	assert.GreaterOrEqual(t, lostAt[0].Sub(<-down), after, "the flaps before the outage do not add up")
}
