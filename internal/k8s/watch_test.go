package k8s

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestWatcherKeepsThePodsOfItsSelectorWithoutManagedFields(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "kube-scheduler", Operation: metav1.ManagedFieldsOperationUpdate}}
	pod := func(name, run string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{LabelRun: run}, ManagedFields: managed},
			Spec: corev1.PodSpec{NodeName: "node-1"}}
	}
	client := fake.NewClientset(pod("mine", "r1"), pod("other", "r2"))
	w, err := NewWatcher(client, "ns", LabelRun+"=r1")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer w.Shutdown()
	defer cancel()
	require.NoError(t, w.Start(ctx))

	pods, err := w.Pods()
	require.NoError(t, err)
	require.Len(t, pods, 1)
	assert.Equal(t, "mine", pods[0].Name)
	assert.Equal(t, "node-1", pods[0].Spec.NodeName, "the rest of the pod is kept")
	assert.Empty(t, pods[0].ManagedFields)
}
