package k8s

import (
	"context"
	"testing"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s/k8stest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func node(name string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"big": "label"}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: ready, Reason: "KubeletNotReady", Message: "a long message"},
			},
			Images: []corev1.ContainerImage{{Names: []string{"an/image"}, SizeBytes: 1 << 30}},
		},
	}
}

// TestNodeWatcher: a node is lost once its Ready condition has been other
// than True for the given time, counted from when the watch saw it go; a
// node turning ready again starts over; a deleted node is lost.
func TestNodeWatcher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := fake.NewClientset(node("a", corev1.ConditionTrue), node("b", corev1.ConditionTrue))
	watching := k8stest.NodeWatchStarted(client)
	clock := time.Unix(1000, 0)
	var tick int64
	w, err := NewNodeWatcher(client, func() time.Time { tick++; return clock.Add(time.Duration(tick) * time.Second) })
	require.NoError(t, err)
	require.NoError(t, w.Start(ctx))
	defer w.Shutdown()
	// The fake clientset replays nothing a watch missed: change the nodes
	// once the informer watches.
	select {
	case <-watching:
	case <-ctx.Done():
		t.Fatal("the informer never watched")
	}
	nodes := client.CoreV1().Nodes()
	wait := func() {
		select {
		case <-w.Changed():
		case <-ctx.Done():
			t.Fatal("no change seen")
		}
	}
	_, err = nodes.UpdateStatus(ctx, node("a", corev1.ConditionUnknown), metav1.UpdateOptions{})
	require.NoError(t, err)
	wait()
	far := clock.Add(time.Hour)
	d, ok := w.Lost("a", far, time.Minute)
	require.True(t, ok)
	assert.Equal(t, "Unknown", d.Status)
	assert.Equal(t, "KubeletNotReady", d.Reason)
	_, ok = w.Lost("a", d.Since.Add(59*time.Second), time.Minute)
	assert.False(t, ok, "not before the minute is up")
	_, ok = w.Lost("b", far, time.Minute)
	assert.False(t, ok)

	// Unknown to False keeps the outage's start.
	_, err = nodes.UpdateStatus(ctx, node("a", corev1.ConditionFalse), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { d2, _ := w.Lost("a", far, 0); return d2.Status == "False" }, 5*time.Second, 10*time.Millisecond)
	d2, _ := w.Lost("a", far, 0)
	assert.Equal(t, d.Since, d2.Since)

	_, err = nodes.UpdateStatus(ctx, node("a", corev1.ConditionTrue), metav1.UpdateOptions{})
	require.NoError(t, err)
	wait()
	_, ok = w.Lost("a", far, 0)
	assert.False(t, ok, "ready again")

	require.NoError(t, nodes.Delete(ctx, "b", metav1.DeleteOptions{}))
	wait()
	d, ok = w.Lost("b", far, time.Minute)
	require.True(t, ok)
	assert.Equal(t, "Deleted", d.Status)
	o := NodeLostOutcome("b", d, d.Since.Add(42*time.Second))
	assert.Equal(t, plan.ReasonNodeLost, o.Reason)
	assert.True(t, o.Disrupted())
	assert.Equal(t, "node b has been deleted for 42s: the pod was ended and its tests run again", o.Message)
}

// TestSlimNode: the watch keeps a node's name and Ready condition only.
func TestSlimNode(t *testing.T) {
	got, err := slimNode(node("a", corev1.ConditionFalse))
	require.NoError(t, err)
	n := got.(*corev1.Node)
	assert.Equal(t, "a", n.Name)
	assert.Empty(t, n.Labels)
	assert.Empty(t, n.Status.Images)
	assert.Equal(t, []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}}, n.Status.Conditions)
}

// TestNodeWatcherForbidden: without the right to list nodes, Start says so
// and the caller goes on without the watch.
func TestNodeWatcherForbidden(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", nil)
	})
	w, err := NewNodeWatcher(client, nil)
	require.NoError(t, err)
	err = w.Start(context.Background())
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err))
	assert.Contains(t, err.Error(), "listing nodes")
}
