package runner

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s/k8stest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// TestNodeLostAfterWindow: NodeLostAfter decides when a pod on a node
// gone not ready ends, by the clock: with a 10s window the pod still runs
// 5s into the outage and has ended at 20s; with 60s it still runs at 20s
// and 50s, and has ended at 70s.
func TestNodeLostAfterWindow(t *testing.T) {
	down := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		after   time.Duration
		running []time.Duration
		ended   time.Duration
	}{
		{10 * time.Second, []time.Duration{5 * time.Second}, 20 * time.Second},
		{60 * time.Second, []time.Duration{5 * time.Second, 20 * time.Second, 50 * time.Second}, 70 * time.Second},
	} {
		t.Run(tt.after.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			client := fake.NewClientset(readyNode("n1"))
			watching := k8stest.NodeWatchStarted(client)
			nw, err := k8s.NewNodeWatcher(client, func() time.Time { return down })
			require.NoError(t, err)
			require.NoError(t, nw.Start(ctx))
			defer nw.Shutdown()
			select {
			case <-watching:
			case <-ctx.Done():
				t.Fatal("the node watch never started")
			}
			setReady(ctx, t, client, "n1", corev1.ConditionUnknown)
			select {
			case <-nw.Changed():
			case <-ctx.Done():
				t.Fatal("the watch never saw the node go")
			}
			r := &run{o: Options{NodeLostAfter: tt.after, Logger: slog.New(slog.DiscardHandler)}, nodes: nw, lost: map[string]plan.Outcome{}}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{k8s.LabelCase: "c", k8s.LabelAttempt: "1"}},
				Spec:       corev1.PodSpec{NodeName: "n1"},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: k8s.TestContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
			}
			for _, at := range tt.running {
				assert.False(t, r.observe(pod, down.Add(at)).Done, "still running %s into the outage", at)
			}
			obs := r.observe(pod, down.Add(tt.ended))
			require.True(t, obs.Done, "ended %s into the outage", tt.ended)
			assert.Equal(t, plan.ReasonNodeLost, obs.Outcome.Reason)
			assert.True(t, obs.Outcome.Disrupted(), "an infrastructure retry")
		})
	}
}
