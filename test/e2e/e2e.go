//go:build e2e

// Package e2e holds the end-to-end tests, which run against a real
// Kubernetes cluster. The cluster is described to them only by environment
// variables, so the same tests run unchanged against the local cluster of
// hack/cluster, kind, or any other cluster that can pull from a registry
// the tests can push to:
//
//	KUBECONFIG              admin kubeconfig of the cluster
//	K8S_TESTRUN_REGISTRY    registry host[:port] the tests push to and the cluster pulls from
//	K8S_TESTRUN_BASE_IMAGE  Python image with pytest, pullable by the cluster
//	K8S_TESTRUN_MATRIX_BASE_IMAGE  another one, of another Python and pytest
//	                        (the runtime-matrix tests need it)
//
// `go run ./hack/cluster up` writes them to an env file; `make e2e-env`
// prints them for a shell.
package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
)

// The environment variables that describe the cluster under test.
const (
	EnvKubeconfig = "KUBECONFIG"
	EnvRegistry   = "K8S_TESTRUN_REGISTRY"
	EnvBaseImage  = "K8S_TESTRUN_BASE_IMAGE"
	// EnvMatrixBaseImage is only read by the runtime-matrix tests.
	EnvMatrixBaseImage = "K8S_TESTRUN_MATRIX_BASE_IMAGE"
)

// Cluster is the cluster under test.
type Cluster struct {
	Config *rest.Config
	Client kubernetes.Interface
	// Registry is where tests push images the cluster can pull.
	Registry string
	// BaseImage is a Python image with pytest the cluster can pull.
	BaseImage string
}

// Connect returns the cluster the environment names. It fails the test, not
// skips it, when a variable is missing: an e2e run without a cluster has
// tested nothing and must not pass.
func Connect(t testing.TB) *Cluster {
	t.Helper()
	var missing []string
	get := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			missing = append(missing, k)
		}
		return v
	}
	kubeconfig, registry, base := get(EnvKubeconfig), get(EnvRegistry), get(EnvBaseImage)
	require.Empty(t, missing, "the e2e tests need a cluster: set %v "+
		"(for the local cluster: go run ./hack/cluster up; set -a; . /var/lib/k8s-testrun/cluster/ktr/env; set +a)", missing)

	// The default loading rules read KUBECONFIG as kubectl does, a list of
	// files included.
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	require.NoError(t, err, "loading %s=%s", EnvKubeconfig, kubeconfig)
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err, "creating client")
	return &Cluster{Config: cfg, Client: cs, Registry: registry, BaseImage: base}
}

// Context returns a context that ends with the test or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// NewNamespace creates a namespace for one test and waits until pods can
// be created in it (its default ServiceAccount exists). At cleanup it
// deletes the namespace's pods, then the namespace.
func (c *Cluster) NewNamespace(t testing.TB, prefix string) string {
	t.Helper()
	ctx := Context(t, time.Minute)
	ns, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix + "-",
			Labels:       map[string]string{"k8s-testrun.io/e2e": "true"},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err, "creating namespace")
	name := ns.Name
	t.Cleanup(func() { c.deleteNamespace(t, name) })

	for {
		_, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return name
		}
		require.True(t, apierrors.IsNotFound(err), "waiting for default ServiceAccount in %s: %v", name, err)
		select {
		case <-ctx.Done():
			require.FailNow(t, "no default ServiceAccount", "namespace %s: %v", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) deleteNamespace(t testing.TB, name string) {
	t.Helper()
	// Cleanup runs after the test's own context has ended.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	grace := int64(0)
	err := c.Client.CoreV1().Pods(name).DeleteCollection(ctx,
		metav1.DeleteOptions{GracePeriodSeconds: &grace}, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting pods of namespace %s: %v", name, err)
	}
	err = c.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting namespace %s: %v", name, err)
	}
}

// WaitForPod watches one pod until cond holds and returns it. cond sees
// every observed version of the pod; an error from cond ends the wait.
func (c *Cluster) WaitForPod(ctx context.Context, ns, name string, cond func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return c.Client.CoreV1().Pods(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return c.Client.CoreV1().Pods(ns).Watch(ctx, o)
		},
	}
	var last *corev1.Pod
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("pod %s/%s was deleted", ns, name)
		}
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		last = p
		return cond(p)
	})
	if err != nil {
		if last != nil {
			return last, fmt.Errorf("waiting for pod %s/%s (phase %s): %w", ns, name, last.Status.Phase, err)
		}
		return nil, fmt.Errorf("waiting for pod %s/%s: %w", ns, name, err)
	}
	return last, nil
}

// PodFinished holds once the pod has Succeeded or Failed.
func PodFinished(p *corev1.Pod) (bool, error) {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
}

// Terminated returns the terminated state of the named container, whether
// it is a regular, init or sidecar container, or nil.
func Terminated(p *corev1.Pod, container string) *corev1.ContainerStateTerminated {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for _, s := range list {
			if s.Name == container {
				return s.State.Terminated
			}
		}
	}
	return nil
}

// ContainerLog reads a container's log through the API server (pods/log),
// which proxies it from the kubelet.
func (c *Cluster) ContainerLog(ctx context.Context, ns, pod, container string) (string, error) {
	rc, err := c.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(ctx)
	if err != nil {
		return "", fmt.Errorf("opening log of %s/%s[%s]: %w", ns, pod, container, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return "", fmt.Errorf("reading log of %s/%s[%s]: %w", ns, pod, container, err)
	}
	return string(b), nil
}

// Describe summarises a pod's status and events for a failure message.
func (c *Cluster) Describe(ctx context.Context, p *corev1.Pod) string {
	if p == nil {
		return "(no pod)"
	}
	s := fmt.Sprintf("pod %s/%s phase=%s reason=%q message=%q", p.Namespace, p.Name, p.Status.Phase, p.Status.Reason, p.Status.Message)
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			s += fmt.Sprintf("\n  container %s: ready=%t restarts=%d state=%+v", cs.Name, cs.Ready, cs.RestartCount, cs.State)
		}
	}
	evs, err := c.Client.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", p.Name).String(),
	})
	if err == nil {
		for _, e := range evs.Items {
			s += fmt.Sprintf("\n  event %s %s: %s", e.Type, e.Reason, e.Message)
		}
	}
	return s
}

// WatchPods lists the pods of ns that the label selector sel selects, and
// watches them from that list's resourceVersion with a retry watcher, which
// resumes from the last event when the API server closes the watch: no
// event after the list is lost. It returns the watch and the listed pods.
func (c *Cluster) WatchPods(ctx context.Context, t *testing.T, ns, sel string) (watch.Interface, []corev1.Pod) {
	t.Helper()
	pods := c.Client.CoreV1().Pods(ns)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
	require.NoError(t, err, "listing pods in %s", ns)
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			return pods.Watch(ctx, o)
		},
	})
	require.NoError(t, err, "watching pods in %s", ns)
	return w, list.Items
}
