//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// lostNodeTaint keeps every pod but the test's off the fake node.
const lostNodeTaint = "k8s-testrun.io/e2e-lost-node"

// fakeNode is a node object with no kubelet behind it: the test renews its
// lease, so the node controller keeps it as the test sets it, and plays
// its kubelet, marking the pods placed there as running, forever.
type fakeNode struct {
	name string
	c    *Cluster
}

func (c *Cluster) newFakeNode(ctx context.Context, t *testing.T, name string) *fakeNode {
	qty := resource.MustParse
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name, "k8s-testrun.io/e2e": "true"}},
		Spec: corev1.NodeSpec{
			// Cordoned until the run's tests start: the discovery pod
			// must run on the real node.
			Unschedulable: true,
			Taints:        []corev1.Taint{{Key: lostNodeTaint, Value: "fake", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	_, err := c.Client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		_ = c.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, name, metav1.DeleteOptions{})
	})
	f := &fakeNode{name: name, c: c}
	f.update(ctx, t, func(n *corev1.Node) bool {
		n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: qty("64"), corev1.ResourceMemory: qty("256Gi"), corev1.ResourcePods: qty("110")}
		n.Status.Allocatable = n.Status.Capacity
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		return true
	})
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To(int32(40)), RenewTime: ptr.To(metav1.NowMicro())}}
	_, err = c.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{})
	require.NoError(t, err)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			l, err := c.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				continue
			}
			l.Spec.RenewTime = ptr.To(metav1.NowMicro())
			_, _ = c.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, l, metav1.UpdateOptions{})
		}
	}()
	return f
}

func (f *fakeNode) update(ctx context.Context, t *testing.T, change func(*corev1.Node) bool) {
	for range 10 {
		n, err := f.c.Client.CoreV1().Nodes().Get(ctx, f.name, metav1.GetOptions{})
		require.NoError(t, err)
		status := change(n)
		if status {
			_, err = f.c.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		} else {
			_, err = f.c.Client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		}
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("updating node %s failed", f.name)
}

// TestNodeLost runs the sample over the real node and a fake one that
// takes some of its pods and keeps them running. Once pods run there, the
// fake node turns NotReady: its pods are ended as NodeLost and deleted
// within 90s of the change, their tests run again on the real node as
// infrastructure retries, and every test ends with the verdict it has
// without the loss.
func TestNodeLost(t *testing.T) {
	c := Connect(t)
	runNodeLost(t, c, c.NewNamespace(t, "e2e-nodelost"))
}

// runNodeLost is TestNodeLost in namespace ns, with extra arguments of the
// run (--mode operator).
func runNodeLost(t *testing.T, c *Cluster, ns string, extra ...string) {
	ctx := Context(t, 8*time.Minute)
	dir := t.TempDir()
	f := c.newFakeNode(ctx, t, "ktr-e2e-lost-"+ns)
	template := filepath.Join(dir, "template.yaml")
	// The fake node is preferred, so that pods land there whatever else
	// the scheduler weighs (the real node holds the image, for one).
	require.NoError(t, os.WriteFile(template, []byte("spec:\n  tolerations:\n  - key: "+lostNodeTaint+"\n    operator: Exists\n"+
		"  affinity:\n    nodeAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n      - weight: 100\n        preference:\n"+
		"          matchFields:\n          - key: metadata.name\n            operator: In\n            values: [\""+f.name+"\"]\n"), 0o644))

	// A retrying watch: a plain one ends at its first error, such as an
	// API server whose watch cache lags ("Too large resource version").
	list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Client.CoreV1().Pods(ns).Watch(ctx, o)
		},
	})
	require.NoError(t, err)
	defer w.Stop()
	var mu sync.Mutex
	onFake := map[string]string{} // pod -> test id
	gone := map[string]time.Time{}
	firstOnFake := make(chan struct{})
	go func() {
		uncordoned := false
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if p.Labels[k8s.LabelRole] == "test" && !uncordoned {
				uncordoned = true
				f.update(ctx, t, func(n *corev1.Node) bool { n.Spec.Unschedulable = false; return false })
			}
			if p.Spec.NodeName != f.name {
				continue
			}
			mu.Lock()
			_, known := onFake[p.Name]
			if ev.Type == watch.Deleted {
				gone[p.Name] = time.Now()
				mu.Unlock()
				continue
			}
			if !known {
				onFake[p.Name] = p.Annotations[k8s.AnnotationTestID]
				if len(onFake) == 1 {
					close(firstOnFake)
				}
			}
			mu.Unlock()
			if p.Status.Phase == "" || p.Status.Phase == corev1.PodPending {
				// Its kubelet: the pod runs, and never ends.
				p = p.DeepCopy()
				now := metav1.Now()
				p.Status.Phase = corev1.PodRunning
				p.Status.StartTime = &now
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now}}
				for _, ctr := range p.Spec.Containers {
					p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: ctr.Name, Image: ctr.Image,
						Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
				}
				_, _ = c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			}
		}
	}()

	report := filepath.Join(dir, "junit.xml")
	args := append([]string{"--infra-retries", "2", "--parallelism", "2", "--pod-template", template}, extra...)
	cmd := c.Command(ctx, t, nil, append(c.runArgs(t, ns, report, args...), Testdata("sample"))...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	select {
	case <-firstOnFake:
	case err := <-exited:
		t.Fatalf("the run ended before a pod ran on the fake node: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	case <-ctx.Done():
		t.Fatal("no pod ran on the fake node")
	}
	// Let the pods there run a moment, then the node goes.
	time.Sleep(2 * time.Second)
	changed := time.Now()
	f.update(ctx, t, func(n *corev1.Node) bool {
		for i := range n.Status.Conditions {
			if n.Status.Conditions[i].Type == corev1.NodeReady {
				n.Status.Conditions[i].Status = corev1.ConditionFalse
				n.Status.Conditions[i].Reason = "KubeletStopped"
				n.Status.Conditions[i].LastTransitionTime = metav1.Now()
			}
		}
		return true
	})
	t.Logf("node %s turned Ready=False at %s", f.name, changed.Format(time.RFC3339Nano))

	select {
	case err = <-exited:
	case <-ctx.Done():
		t.Fatal("the run did not finish")
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Equal(t, 1, cmd.ProcessState.ExitCode(), "the sample's own failures, no infrastructure error")
	assert.Contains(t, stdout.String(), "2 failed, 7 passed, 2 skipped, 1 error", "the verdicts of the sample without a lost node")
	c.RequireNoRunPods(t, ns)

	mu.Lock()
	lost := map[string]string{}
	for pod, id := range onFake {
		lost[pod] = id
	}
	var slowest time.Duration
	for pod := range lost {
		at, ok := gone[pod]
		if assert.True(t, ok, "pod %s on the lost node was deleted", pod) {
			slowest = max(slowest, at.Sub(changed))
		}
	}
	mu.Unlock()
	require.NotEmpty(t, lost)
	t.Logf("%d pods on the lost node; the last was deleted %s after the node's change", len(lost), slowest.Round(time.Millisecond))
	assert.Less(t, slowest, 90*time.Second, "the lost node's pods end within 90s")

	b, err := os.ReadFile(filepath.Join(dir, "attempts.json"))
	require.NoError(t, err)
	var doc struct {
		Tests []struct {
			Test     string
			Status   string
			Attempts []struct {
				Status string
				Reason string
				Infra  bool
				Pod    string
			}
		}
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	byPod := map[string]bool{}
	for _, tt := range doc.Tests {
		for i, a := range tt.Attempts {
			if _, ok := lost[a.Pod]; !ok {
				continue
			}
			byPod[a.Pod] = true
			assert.Equal(t, "NodeLost", a.Reason, tt.Test)
			assert.True(t, a.Infra, "an infrastructure retry: %s", tt.Test)
			assert.Less(t, i, len(tt.Attempts)-1, "the test ran again after its node was lost: %s", tt.Test)
		}
	}
	assert.Len(t, byPod, len(lost), "every pod of the lost node is an attempt in the report")
}
