//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/kind"
)

// TestLocalRegistryHosting advertises the test registry in
// kube-public/local-registry-hosting under two names, as KEP-1755 allows:
// host is localhost:PORT, where this machine pushes, and
// hostFromContainerRuntime is 127.0.0.1:PORT, the only name the nodes pull
// by. With no repository given, the CLI and the action push to the first
// and the pods get the second, which a watch on the pods records as they
// are created, since none is left at the end. (This cluster's nodes happen
// to pull localhost:PORT too, so a passing run alone would prove nothing.)
//
// The network join that goes with it on kind needs a Docker engine, which
// this cluster has none of; internal/kind tests it against a fake engine.
func TestLocalRegistryHosting(t *testing.T) {
	c := Connect(t)
	host, port, err := net.SplitHostPort(c.Registry)
	require.NoError(t, err, "%s=%s", EnvRegistry, c.Registry)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Skipf("%s=%s: the test names a loopback registry two ways", EnvRegistry, c.Registry)
	}
	push, pull := "localhost:"+port, c.Registry
	ctx := Context(t, 10*time.Minute)

	cms := c.Client.CoreV1().ConfigMaps(kind.HostingNamespace)
	_, err = cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: kind.HostingConfigMap, Namespace: kind.HostingNamespace, Labels: map[string]string{"k8s-testrun.io/e2e": "true"}},
		Data: map[string]string{kind.HostingKey: `host: "` + push + `"
hostFromContainerRuntime: "` + pull + `"
help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
`},
	}, metav1.CreateOptions{})
	require.False(t, apierrors.IsAlreadyExists(err), "ConfigMap %s/%s exists already: the cluster advertises a registry of its own, or another run of this test holds it", kind.HostingNamespace, kind.HostingConfigMap)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx := Context(t, 30*time.Second)
		if err := cms.Delete(cctx, kind.HostingConfigMap, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting ConfigMap %s/%s: %v", kind.HostingNamespace, kind.HostingConfigMap, err)
		}
	})
	ns := c.NewNamespace(t, "e2e-lrh")
	wantPushed := push + "/k8s-testrun/sample@sha256:"
	wantPulled := pull + "/k8s-testrun/sample@sha256:"
	// One passing test keeps the run short.
	const selection = "tests/test_basic.py::test_passes"

	t.Run("cli", func(t *testing.T) {
		report := filepath.Join(t.TempDir(), "junit.xml")
		images := c.recordImages(ctx, t, ns)
		res := c.RunCLI(ctx, t, []string{EnvRegistry + "="}, "run", "-v",
			"--namespace", ns, "--base-image", c.BaseImage, "--junit", report,
			Testdata("sample"), "--", selection)
		require.Equal(t, 0, res.Exit)
		assertPulledAs(t, images(), wantPulled)
		assert.Contains(t, res.Stderr, "found the cluster's local registry")
		assert.Contains(t, res.Stderr, "image="+wantPushed, "pushed to the host's name")
		image := suiteProperty(readReport(t, report), "k8s-testrun.image")
		assert.True(t, strings.HasPrefix(image, wantPulled), "the pods' image %q is at the runtime's name", image)
		c.RequireNoRunPods(t, ns)
	})

	t.Run("action", func(t *testing.T) {
		_, srv := newChecksAPI(t, false)
		s := c.actionStep(t, srv.URL, ns, "testdata/sample", map[string]string{
			"repository": "", "pytest_args": selection,
		})
		images := c.recordImages(ctx, t, ns)
		res := c.RunCLI(ctx, t, s.env)
		require.Equal(t, 0, res.Exit)
		assertPulledAs(t, images(), wantPulled)
		assert.Contains(t, res.Stdout, "found the cluster's local registry")
		outs := readOutputs(t, s.output)
		assert.Equal(t, "1", outs["total"])
		assert.True(t, strings.HasPrefix(outs["image"], wantPulled), "image output: %s", outs["image"])
		image := suiteProperty(readReport(t, s.junit), "k8s-testrun.image")
		assert.True(t, strings.HasPrefix(image, wantPulled), "the pods' image %q is at the runtime's name", image)
		c.RequireNoRunPods(t, ns)
	})
}

// recordImages watches the pods k8s-testrun creates in ns and returns a
// function that stops the watch and gives the images of every container
// (init containers too) of the pods seen. The watch starts at the
// resourceVersion of a list and a retry watcher resumes it from the last
// event seen, so a watch the API server closes early loses no pod.
func (c *Cluster) recordImages(ctx context.Context, t *testing.T, ns string) func() []string {
	t.Helper()
	w, _ := c.WatchPods(ctx, t, ns, k8s.LabelManagedBy+"="+k8s.ManagedBy)
	var (
		mu     sync.Mutex
		images []string
		errs   []string
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			mu.Lock()
			switch p, ok := ev.Object.(*corev1.Pod); {
			case ev.Type == watch.Error:
				errs = append(errs, fmt.Sprint(apierrors.FromObject(ev.Object)))
			case ok && ev.Type == watch.Added:
				for _, ctr := range append(p.Spec.InitContainers, p.Spec.Containers...) {
					images = append(images, ctr.Image)
				}
			}
			mu.Unlock()
		}
	}()
	return func() []string {
		w.Stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		assert.Empty(t, errs, "errors from the watch on pods in %s", ns)
		return images
	}
}

// assertPulledAs checks that the pods named the test image by want, and
// never otherwise.
func assertPulledAs(t *testing.T, images []string, want string) {
	t.Helper()
	n := 0
	for _, img := range images {
		if strings.Contains(img, "/k8s-testrun/sample@") {
			n++
			assert.True(t, strings.HasPrefix(img, want), "a pod's image %q is at the runtime's name %s", img, want)
		}
	}
	assert.Positive(t, n, "pods with the test image were seen: %v", images)
}
