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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func TestSlowLaneTimeout(t *testing.T) {
	r := &run{o: Options{Timeout: 10, SlowTimeout: 30}}
	assert.EqualValues(t, 30, r.timeout(plan.Case{Lane: plan.LaneSlow}))
	assert.EqualValues(t, 10, r.timeout(plan.Case{Lane: plan.LaneSerial}))
	assert.EqualValues(t, 10, r.timeout(plan.Case{}))
	r.o.SlowTimeout = 0
	assert.EqualValues(t, 10, r.timeout(plan.Case{Lane: plan.LaneSlow}), "no slow timeout means the timeout")
}

// TestRunSerialLaneWaitsForTerminatingPods runs plain and serial tests
// against a fake API server whose deletions leave the pod terminating for a
// while, as a kubelet does: no serial pod is created while any other pod of
// the run exists, terminating or not, and no pod beside a serial one.
func TestRunSerialLaneWaitsForTerminatingPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	tracker := client.Tracker()
	podsGVR := corev1.SchemeGroupVersion.WithResource("pods")
	var mu sync.Mutex
	var violations []string
	var order []string
	serial := map[string]bool{"t.py::s1": true, "t.py::s2": true}
	client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pod := action.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		obj, err := tracker.List(podsGVR, corev1.SchemeGroupVersion.WithKind("Pod"), "ns")
		require.NoError(t, err)
		existing := obj.(*corev1.PodList).Items
		id := pod.Annotations[k8s.AnnotationTestID]
		mu.Lock()
		defer mu.Unlock()
		order = append(order, id)
		for _, p := range existing {
			other := p.Annotations[k8s.AnnotationTestID]
			if serial[id] || serial[other] {
				violations = append(violations, id+" created beside "+other)
			}
		}
		return false, nil, nil
	})
	client.PrependReactor("delete", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		name := action.(k8stesting.DeleteAction).GetName()
		obj, err := tracker.Get(podsGVR, "ns", name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		if pod.DeletionTimestamp == nil {
			pod.DeletionTimestamp = &metav1.Time{Time: time.Now()}
			require.NoError(t, tracker.Update(podsGVR, pod, "ns"))
			go func() {
				time.Sleep(150 * time.Millisecond)
				_ = tracker.Delete(podsGVR, "ns", name)
			}()
		}
		return true, nil, nil
	})
	k := &kubelet{t: t, client: client, run: 30 * time.Millisecond, exit: func(string, int) int32 { return 0 }}
	k.start(ctx)

	cs := cases("t.py::a", "t.py::s1", "t.py::b", "t.py::s2", "t.py::c")
	for i := range cs {
		if serial[cs[i].TestID] {
			cs[i].Lane = plan.LaneSerial
		}
	}
	results, err := Run(ctx, Options{Client: client, Namespace: "ns", RunID: "r1", Image: "img",
		Cases: cs, Parallelism: 3, Resync: 20 * time.Millisecond})
	require.NoError(t, err)
	for _, r := range results {
		assert.Equal(t, plan.Passed, r.Status, r.Case.TestID)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, violations)
	require.Len(t, order, 5)
	assert.ElementsMatch(t, []string{"t.py::s1", "t.py::s2"}, order[3:], "serial tests after the parallel ones: %v", order)
}
