package k8s

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

func runPod(name, run string, created time.Time) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(created),
		Labels: map[string]string{LabelManagedBy: ManagedBy, LabelRun: run},
	}}
}

func TestGC(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	client := fake.NewClientset(
		runPod("old-1", "old", now.Add(-3*time.Hour)),
		runPod("old-2", "old", now.Add(-2*time.Hour)),
		runPod("mixed-1", "mixed", now.Add(-3*time.Hour)),
		runPod("mixed-2", "mixed", now.Add(-time.Minute)),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: "ns", CreationTimestamp: metav1.NewTime(now.Add(-9 * time.Hour))}},
	)
	runs, err := GC(context.Background(), client, "ns", time.Hour, now)
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, runs)

	left, err := client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, p := range left.Items {
		names = append(names, p.Name)
	}
	assert.ElementsMatch(t, []string{"mixed-1", "mixed-2", "foreign"}, names)
}

func TestDeleteSelectedDeletesOneByOne(t *testing.T) {
	client := fake.NewClientset(runPod("a", "r1", time.Now()), runPod("b", "r1", time.Now()), runPod("c", "r2", time.Now()))
	n, err := DeleteSelected(context.Background(), client, "ns", RunSelector("r1"), nil)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, a := range client.Actions() {
		assert.NotEqual(t, "delete-collection", a.GetVerb(), "a Role need not grant deletecollection")
	}
	require.NoError(t, WaitGone(context.Background(), client, "ns", RunSelector("r1")))
	left, err := client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, left.Items, 1)
	assert.Equal(t, "c", left.Items[0].Name)
}

// TestDeleteUntilGoneDeletesLateCreates plays a pod create that lands
// after the first delete: the cleanup deletes it too and ends with no pod.
func TestDeleteUntilGoneDeletesLateCreates(t *testing.T) {
	client := fake.NewClientset(runPod("a", "r1", time.Now()), runPod("c", "r2", time.Now()))
	lists := 0
	client.PrependReactor("list", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if lists++; lists == 2 {
			// The create in flight lands between two lists.
			err := client.Tracker().Add(runPod("late", "r1", time.Now()))
			require.NoError(t, err)
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := DeleteUntilGone(ctx, client, "ns", RunSelector("r1"), nil)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the first pod and the late one")
	left, err := client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, left.Items, 1)
	assert.Equal(t, "c", left.Items[0].Name)
}

func TestCreatePodErrors(t *testing.T) {
	pod := runPod("p", "r", time.Now())
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "p", errors.New("no")), "grant a Role in namespace \"ns\""},
		{"namespace missing", apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "ns"), "create namespace \"ns\""},
		{"unauthorized", apierrors.NewUnauthorized("expired"), "credentials were rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, tt.err
			})
			err := CreatePod(context.Background(), client, pod)
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	client := fake.NewClientset(pod)
	assert.NoError(t, CreatePod(context.Background(), client, pod.DeepCopy()), "an existing pod of the same name is the same attempt")
}

func TestSupportsNativeSidecars(t *testing.T) {
	for v, want := range map[string]bool{"v1.28.9": false, "v1.29.0": true, "v1.35.4": true, "v1.33.1-gke.100": true} {
		client := fake.NewClientset()
		client.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: v}
		got, err := SupportsNativeSidecars(context.Background(), client)
		require.NoError(t, err, v)
		assert.Equal(t, want, got, v)
	}
}

// TestCallsHaveATimeout plays an API server that accepts requests and
// never answers: pod creates, deletes and log reads fail after CallTimeout
// although the caller's context has no deadline.
func TestCallsHaveATimeout(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	old := CallTimeout
	CallTimeout = 200 * time.Millisecond
	defer func() { CallTimeout = old }()

	ctx := context.Background()
	for name, call := range map[string]func() error{
		"create": func() error { return CreatePod(ctx, client, runPod("b", "r1", time.Now())) },
		"delete": func() error { return DeletePod(ctx, client, "ns", "a", nil) },
		"logs": func() error {
			_, err := Logs(ctx, client, "ns", "a", "test", 0)
			return err
		},
	} {
		start := time.Now()
		err := call()
		require.Error(t, err, name)
		assert.Less(t, time.Since(start), 5*time.Second, "%s ends at its timeout", name)
	}
}
