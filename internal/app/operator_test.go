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
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
	"github.com/k8s-testrun/k8s-testrun/manifests"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
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
	objs, err := manifests.BuildScoped(overlay, manifests.Scope{})
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

	objs, err := manifests.BuildScoped(manifests.Local, manifests.Scope{})
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

// TestInstallScopes prints the manifests of each scope and checks the
// bindings that grant the operator its rights, and the line that says
// where it watches.
func TestInstallScopes(t *testing.T) {
	type binding struct{ kind, namespace string }
	for _, tc := range []struct {
		name     string
		args     []string
		bindings []binding
		line     string
	}{
		{"own namespace", nil, []binding{{"RoleBinding", "k8s-testrun-system"}},
			"the operator watches namespaces k8s-testrun-system\n"},
		{"watched namespaces", []string{"--watch-namespace", "a", "--watch-namespace", "b"},
			[]binding{{"RoleBinding", "k8s-testrun-system"}, {"RoleBinding", "a"}, {"RoleBinding", "b"}},
			"the operator watches namespaces k8s-testrun-system, a, b\n"},
		{"comma-separated", []string{"--watch-namespace", "a,b"},
			[]binding{{"RoleBinding", "k8s-testrun-system"}, {"RoleBinding", "a"}, {"RoleBinding", "b"}},
			"the operator watches namespaces k8s-testrun-system, a, b\n"},
		{"cluster-wide", []string{"--cluster-wide"},
			[]binding{{"RoleBinding", "k8s-testrun-system"}, {"ClusterRoleBinding", ""}},
			"the operator watches every namespace (--cluster-wide)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"install", "--image", "reg.test/p@sha256:abc", "--print"}, tc.args...)
			code := Run(context.Background(), args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
			require.Equal(t, ExitOK, code, errOut.String())
			assert.Equal(t, tc.line, errOut.String(), "one line says where the operator watches")
			var got []binding
			for _, doc := range strings.Split(out.String(), "---\n") {
				var obj struct {
					Kind     string `json:"kind"`
					Metadata struct {
						Name, Namespace string
					} `json:"metadata"`
					RoleRef struct{ Kind, Name string } `json:"roleRef"`
				}
				require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
				if strings.HasSuffix(obj.Kind, "RoleBinding") && obj.RoleRef.Name == manifests.OperatorName {
					got = append(got, binding{obj.Kind, obj.Metadata.Namespace})
				}
			}
			assert.ElementsMatch(t, tc.bindings, got)
		})
	}

	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"install", "--image", "i@sha256:abc", "--print", "--cluster-wide", "--watch-namespace", "a"},
		Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	assert.Equal(t, ExitInfra, code)
	assert.Equal(t, "k8s-testrun: --watch-namespace and --cluster-wide exclude each other: --cluster-wide already watches every namespace\n", errOut.String())
	assert.Empty(t, out.String())
}

func TestFollowerReportsEachAttemptOnce(t *testing.T) {
	var got []int
	p := &pipeline{onAttempt: func(c plan.Case, a attempt.Attempt) {
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

// TestFollowerNamesTheBaseOfAMatrix: in a runtime matrix an attempt's live
// line names its base, as direct mode's does: by Python version once the
// run's status has it, by image before.
func TestFollowerNamesTheBaseOfAMatrix(t *testing.T) {
	var lines []string
	p := &pipeline{}
	p.onAttempt = func(c plan.Case, a attempt.Attempt) {
		lines = append(lines, c.TestID+" ["+p.baseLabels[c.Base]+"]")
	}
	run := &v1alpha1.TestRun{Spec: v1alpha1.TestRunSpec{Bases: []v1alpha1.MatrixBase{
		{Name: "python:3.11", Image: "r/a@sha256:1"}, {Name: "python:3.13", Image: "r/a@sha256:2"}}}}
	f := &follower{p: p, reported: map[string]int{}, cur: run}
	tc := &v1alpha1.TestCase{Spec: v1alpha1.TestCaseSpec{TestID: "t.py::a", Base: 1}}
	tc.Name = "r-abc-b1"
	tc.Status.History = []v1alpha1.Attempt{{Number: 1, Status: "failed"}}
	f.report(tc)

	found := run.DeepCopy()
	found.Status.Bases = []v1alpha1.BaseStatus{{Name: "python:3.11", Python: "3.11.2"}, {Name: "python:3.13", Python: "3.13.5"}}
	f.observe(found)
	tc.Status.History = append(tc.Status.History, v1alpha1.Attempt{Number: 2, Status: "passed"})
	f.report(tc)
	assert.Equal(t, []string{"t.py::a [python:3.13]", "t.py::a [Python 3.13]"}, lines)
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
	c := crfake.NewClientBuilder().WithScheme(scheme).WithObjects(run).WithStatusSubresource(run).
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

func TestInstallNeedsTheWatchedNamespaces(t *testing.T) {
	cluster := &k8s.Cluster{Client: fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci"}})}
	require.NoError(t, namespacesExist(context.Background(), cluster, []string{"ci"}))
	err := namespacesExist(context.Background(), cluster, []string{"ci", "nightly"})
	assert.EqualError(t, err, "--watch-namespace nightly: no such namespace: create it first (kubectl create namespace nightly)")
}

func TestOperatorNamespaceFlag(t *testing.T) {
	var l namespaceList
	require.NoError(t, l.Set("a,b"))
	require.NoError(t, l.Set(" c , a"))
	require.NoError(t, l.Set(""))
	assert.Equal(t, namespaceList{"a", "b", "c"}, l)
	assert.Equal(t, "a,b,c", l.String())
	assert.ErrorContains(t, l.Set("Not_A_Namespace"), `namespace "Not_A_Namespace"`)

	var errOut bytes.Buffer
	code := Run(context.Background(), []string{"operator", "--watch-namespace", "x_y"},
		Env{Stdout: &errOut, Stderr: &errOut, Getenv: func(string) string { return "" }})
	assert.Equal(t, ExitInfra, code)
	assert.Contains(t, errOut.String(), `--watch-namespace "x_y": namespace "x_y"`)
}

// TestInstallRevokesStaleRights installs narrower than before: the
// ClusterRoleBinding of an earlier --cluster-wide and the RoleBinding of a
// namespace no longer watched go; bindings still wanted, and those not the
// operator's, stay.
func TestInstallRevokesStaleRights(t *testing.T) {
	labels := map[string]string{"app.kubernetes.io/name": "k8s-testrun", "app.kubernetes.io/component": "operator"}
	rb := func(ns, name string, l map[string]string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l}}
	}
	client := fake.NewClientset(
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: manifests.OperatorName, Labels: labels}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "k8s-testrun-operator-metrics-auth", Labels: labels}},
		rb("k8s-testrun-system", manifests.OperatorName, labels),
		rb("a", manifests.OperatorName, labels),
		rb("old", manifests.OperatorName, labels),
		rb("old", "someone-elses", nil),
		rb("k8s-testrun-system", "k8s-testrun-operator-leader-election", labels),
	)
	objs, err := manifests.BuildScoped(manifests.Default, manifests.Scope{Namespaces: []string{"a"}})
	require.NoError(t, err)
	require.NoError(t, revokeStale(context.Background(), &k8s.Cluster{Client: client}, objs, slog.New(slog.DiscardHandler)))

	crbs, err := client.RbacV1().ClusterRoleBindings().List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, b := range crbs.Items {
		names = append(names, b.Name)
	}
	assert.Equal(t, []string{"k8s-testrun-operator-metrics-auth"}, names)
	rbs, err := client.RbacV1().RoleBindings("").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	names = nil
	for _, b := range rbs.Items {
		names = append(names, b.Namespace+"/"+b.Name)
	}
	assert.ElementsMatch(t, []string{"k8s-testrun-system/k8s-testrun-operator", "a/k8s-testrun-operator",
		"old/someone-elses", "k8s-testrun-system/k8s-testrun-operator-leader-election"}, names)

	// Cluster-wide keeps its ClusterRoleBinding.
	objs, err = manifests.BuildScoped(manifests.Default, manifests.Scope{ClusterWide: true})
	require.NoError(t, err)
	client = fake.NewClientset(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: manifests.OperatorName, Labels: labels}})
	require.NoError(t, revokeStale(context.Background(), &k8s.Cluster{Client: client}, objs, slog.New(slog.DiscardHandler)))
	_, err = client.RbacV1().ClusterRoleBindings().Get(context.Background(), manifests.OperatorName, metav1.GetOptions{})
	assert.NoError(t, err)
}

func TestOperatorAllNamespacesExcludesWatchNamespace(t *testing.T) {
	var errOut bytes.Buffer
	code := Run(context.Background(), []string{"operator", "--all-namespaces", "--watch-namespace", "a"},
		Env{Stdout: &errOut, Stderr: &errOut, Getenv: func(string) string { return "" }})
	assert.Equal(t, ExitInfra, code)
	assert.Equal(t, "k8s-testrun: --all-namespaces and --watch-namespace exclude each other\n", errOut.String())
}

// TestFollowAsksForTheRunWhenTheWatchIsSilent plays watches that deliver
// nothing, as one that missed the run's end: follow still sees the run
// end, from its own look once a tick.
func TestFollowAsksForTheRunWhenTheWatchIsSilent(t *testing.T) {
	scheme, err := operator.Scheme()
	require.NoError(t, err)
	run := &v1alpha1.TestRun{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
	run.Status.Phase = v1alpha1.RunSucceeded
	silent := watch.NewFake()
	c := crfake.NewClientBuilder().WithScheme(scheme).WithObjects(run).WithStatusSubresource(run).
		WithInterceptorFuncs(interceptor.Funcs{
			Watch: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
				return silent, nil
			},
		}).Build()
	old := followTick
	followTick = 20 * time.Millisecond
	t.Cleanup(func() { followTick = old })
	p := &pipeline{log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := p.follow(ctx, c, &v1alpha1.TestRun{ObjectMeta: run.ObjectMeta})
	require.NoError(t, err, "follow waited for an event that never came")
	assert.Equal(t, v1alpha1.RunSucceeded, got.Status.Phase)
}
