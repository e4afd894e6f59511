package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
)

// TestOperatorRunIsNeverLeftBehind creates the TestRun of `run --mode
// operator` while the run is cancelled, or the create's answer is lost, and
// checks that no TestRun stays in the cluster, while a refused create
// deletes nothing, not even a namesake.
func TestOperatorRunIsNeverLeftBehind(t *testing.T) {
	gr := schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "testruns"}
	for _, tc := range []struct {
		name string
		// create runs in place of the client's create; cancel ends the
		// run's context.
		create  func(ctx context.Context, c client.WithWatch, obj client.Object, cancel func()) error
		cancel  bool // the run is cancelled before the create
		exists  bool // a run of that name is there already
		wantErr string
		stays   bool
	}{
		{name: "created", create: func(ctx context.Context, c client.WithWatch, obj client.Object, _ func()) error {
			return c.Create(ctx, obj)
		}, stays: true},
		{name: "cancelled while the create is in flight", create: func(ctx context.Context, c client.WithWatch, obj client.Object, cancel func()) error {
			cancel()
			return c.Create(ctx, obj)
		}, wantErr: context.Canceled.Error()},
		{name: "cancelled before the create", cancel: true, create: func(ctx context.Context, c client.WithWatch, obj client.Object, _ func()) error {
			return c.Create(ctx, obj)
		}, wantErr: context.Canceled.Error()},
		{name: "answer lost", create: func(ctx context.Context, c client.WithWatch, obj client.Object, _ func()) error {
			if err := c.Create(ctx, obj); err != nil {
				return err
			}
			return errors.New("connection reset by peer")
		}, wantErr: "connection reset by peer"},
		{name: "server error after the create", create: func(ctx context.Context, c client.WithWatch, obj client.Object, _ func()) error {
			if err := c.Create(ctx, obj); err != nil {
				return err
			}
			return apierrors.NewInternalError(errors.New("etcd timeout"))
		}, wantErr: "etcd timeout"},
		{name: "refused", create: func(context.Context, client.WithWatch, client.Object, func()) error {
			return apierrors.NewForbidden(gr, "sample-1", errors.New("no"))
		}, wantErr: "grant testruns.k8s-testrun.io create"},
		{name: "namesake", exists: true, create: func(ctx context.Context, c client.WithWatch, obj client.Object, _ func()) error {
			return c.Create(ctx, obj)
		}, wantErr: "already exists", stays: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme, err := operator.Scheme()
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b := crfake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(ctx context.Context, c client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
					return tc.create(ctx, c, obj, cancel)
				},
			})
			if tc.exists {
				b = b.WithObjects(&v1alpha1.TestRun{ObjectMeta: metav1.ObjectMeta{Name: "sample-1", Namespace: "ns"}})
			}
			c := b.Build()
			p := &pipeline{log: slog.New(slog.DiscardHandler), runID: "sample-1",
				cluster: &k8s.Cluster{Client: fake.NewClientset(), Namespace: "ns"}}
			run, err := p.testRun("reg.test/p@sha256:abc")
			require.NoError(t, err)
			if tc.cancel {
				cancel()
			}

			err = p.createTestRun(ctx, c, run)
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.wantErr)
			}
			err = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "sample-1"}, &v1alpha1.TestRun{})
			if tc.stays {
				assert.NoError(t, err, "the TestRun stays")
			} else {
				assert.True(t, apierrors.IsNotFound(err), "the TestRun is left behind: %v", err)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	gr := schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "testruns"}
	assert.True(t, refused(apierrors.NewAlreadyExists(gr, "x")))
	assert.True(t, refused(apierrors.NewBadRequest("bad")))
	assert.False(t, refused(apierrors.NewTimeoutError("slow", 1)))
	assert.False(t, refused(apierrors.NewInternalError(errors.New("x"))))
	assert.False(t, refused(context.DeadlineExceeded))
}
