package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	manifests "github.com/k8s-testrun/k8s-testrun/config"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/runner"
)

func TestRunName(t *testing.T) {
	assert.Equal(t, "sample-0a1b2c3d", runName("testdata/sample", "0a1b2c3d"))
	assert.Equal(t, "my-project-x-0a1b2c3d", runName("/tmp/My Project_x", "0a1b2c3d"))
	assert.Equal(t, "run-0a1b2c3d", runName("/tmp/___", "0a1b2c3d"))
	long := runName("/tmp/a-very-long-project-name-that-goes-on-and-on", "0a1b2c3d")
	assert.LessOrEqual(t, len(long), 40, "a TestRun name is at most 40 characters")
	assert.Equal(t, "a-very-long-project-name-that-0a1b2c3d", long)
}

func deployment(t *testing.T, overlay, image, host string) *appsv1.Deployment {
	t.Helper()
	objs, err := manifests.Build(overlay)
	require.NoError(t, err)
	require.NoError(t, setImage(objs, image))
	if host != "" {
		require.NoError(t, setAPIServer(objs, host))
	}
	d := &appsv1.Deployment{}
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(find(objs, "Deployment").Object, d))
	_, hasStatus := find(objs, "Deployment").Object["status"]
	assert.False(t, hasStatus, "server-side apply must not claim the status")
	return d
}

func TestInstallEditsTheDeployment(t *testing.T) {
	d := deployment(t, manifests.Default, "reg.test/p@sha256:abc", "")
	assert.Equal(t, "reg.test/p@sha256:abc", d.Spec.Template.Spec.Containers[0].Image)
	assert.False(t, d.Spec.Template.Spec.HostNetwork)

	d = deployment(t, manifests.Local, "reg.test/p@sha256:abc", "https://127.0.0.1:7443")
	env := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	assert.Equal(t, "127.0.0.1", env["KUBERNETES_SERVICE_HOST"])
	assert.Equal(t, "7443", env["KUBERNETES_SERVICE_PORT"], "the port comes from the kubeconfig")
	assert.True(t, d.Spec.Template.Spec.HostNetwork)

	objs, err := manifests.Build(manifests.Local)
	require.NoError(t, err)
	assert.ErrorContains(t, setAPIServer(objs, "https://10.0.0.1:6443"), "use --overlay default")
}

func TestInstallPrintsTheManifests(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"install", "--image", "reg.test/p@sha256:abc", "--print"},
		Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	assert.Equal(t, ExitOK, code, errOut.String())
	assert.Contains(t, out.String(), "image: reg.test/p@sha256:abc")
	assert.Contains(t, out.String(), "kind: CustomResourceDefinition")

	code = Run(context.Background(), []string{"install"}, Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	assert.Equal(t, ExitInfra, code)
	assert.Contains(t, errOut.String(), "--image is required")
}

func TestFollowerReportsEachAttemptOnce(t *testing.T) {
	var got []int
	p := &pipeline{onAttempt: func(c plan.Case, a runner.Attempt) {
		assert.Equal(t, "t.py::a", c.TestID)
		got = append(got, a.Number)
	}}
	f := &follower{p: p, reported: map[string]int{}}
	tc := &v1alpha1.TestCase{Spec: v1alpha1.TestCaseSpec{TestID: "t.py::a"}}
	tc.Name = "r-abc"
	tc.Status.History = []v1alpha1.Attempt{{Number: 1, Status: "failed"}}
	f.report(tc)
	f.report(tc)
	tc.Status.History = append(tc.Status.History, v1alpha1.Attempt{Number: 2, Status: "passed"})
	f.report(tc)
	assert.Equal(t, []int{1, 2}, got)
}

// TestFollowOpensABrokenWatchAgain plays an API server that refuses the
// first watches: follow tries again, with backoff, and sees the run end.
func TestFollowOpensABrokenWatchAgain(t *testing.T) {
	scheme, err := operator.Scheme()
	require.NoError(t, err)
	run := &v1alpha1.TestRun{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
	const refused = 3
	var mu sync.Mutex
	calls := 0
	opened := make(chan struct{}, 1)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(run).WithStatusSubresource(run).
		WithIndex(&v1alpha1.TestRun{}, "metadata.name", func(o client.Object) []string { return []string{o.GetName()} }).
		WithInterceptorFuncs(interceptor.Funcs{
			Watch: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				if n <= refused {
					return nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
				}
				w, err := c.Watch(ctx, list, opts...)
				if _, ok := list.(*v1alpha1.TestCaseList); ok && err == nil {
					opened <- struct{}{}
				}
				return w, err
			},
		}).Build()
	go func() {
		<-opened
		done := run.DeepCopy()
		done.Status.Phase = v1alpha1.RunSucceeded
		assert.NoError(t, c.Status().Update(context.Background(), done))
	}()
	var log bytes.Buffer
	p := &pipeline{log: slog.New(slog.NewTextHandler(&log, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	got, err := p.follow(ctx, c, run)
	require.NoError(t, err)
	assert.Equal(t, v1alpha1.RunSucceeded, got.Status.Phase)
	assert.Equal(t, refused+2, calls, "three refused watches, then the TestRun's and the TestCases'")
	assert.Equal(t, refused, strings.Count(log.String(), "watching the run again"), log.String())
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond+400*time.Millisecond, "the retries back off")
}
