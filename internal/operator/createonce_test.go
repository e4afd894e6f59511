package operator

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
)

// A pass that creates the TestCases and then loses the run's status write
// to a conflict runs again; it does not send every create a second time
// (at 10,000 tests that was 10,000 more requests, each answered 409).
func TestRunCreatesEachTestCaseOnceWhenItsStatusWriteConflicts(t *testing.T) {
	ids := []string{"t_a.py::x", "t_a.py::y", "t_b.py::x", "t_b.py::y", "t_c.py::x"}
	e := newEnv(t, testRun("r1", withTests(ids...)))
	var mu sync.Mutex
	creates, conflicted := 0, false
	e.runs.Client = interceptor.NewClient(e.client, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*v1alpha1.TestCase); ok {
				mu.Lock()
				creates++
				mu.Unlock()
			}
			return c.Create(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			mu.Lock()
			defer mu.Unlock()
			if run, ok := obj.(*v1alpha1.TestRun); ok && !conflicted && meta.IsStatusConditionTrue(run.Status.Conditions, v1alpha1.ConditionDiscovered) {
				conflicted = true
				return kerrors.NewConflict(schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "testruns"}, run.Name, nil)
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	})
	for range 3 {
		e.reconcileRun("r1")
	}
	assert.True(t, meta.IsStatusConditionTrue(e.run("r1").Status.Conditions, v1alpha1.ConditionDiscovered))
	mu.Lock()
	defer mu.Unlock()
	require.True(t, conflicted, "the first status write after the creates conflicted")
	assert.Equal(t, len(ids), creates, "each TestCase created once")
}
