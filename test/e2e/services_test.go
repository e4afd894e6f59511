//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// serviceTemplate writes testdata/services' pod template with the cluster's
// Python image, after edit.
func (c *Cluster) serviceTemplate(t *testing.T, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Testdata("services"), "pod-template.yaml"))
	require.NoError(t, err)
	text := strings.ReplaceAll(string(b), "BASE_IMAGE", c.BaseImage)
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(t.TempDir(), "pod-template.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// TestServiceGatesTheTest runs tests against a web service of the pod
// template that listens only 3 s after it starts: the tests, which do not
// retry, pass on their first attempt because they start once the service is
// ready, and reach it on 127.0.0.1 and by a host alias, through a shared
// emptyDir.
func TestServiceGatesTheTest(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-svc")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	starts := c.watchStarts(ctx, t, ns, "web")
	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report,
		"--pod-template", c.serviceTemplate(t, nil), "--retries", "2"), Testdata("services"))...)
	t.Logf("run took %s", res.Wall)
	gaps := starts()
	t.Logf("test container started after the service by %v", gaps)
	require.Len(t, gaps, 2, "both test pods seen with their start times")
	// Start times have a precision of one second. Gated, the test starts
	// after the probe's first passing tick, at least 4 s after the service
	// (3 s of sleep, then a tick each second), so never less than 3 s apart
	// as printed; ungated it starts at once (1 s apart as printed).
	for pod, gap := range gaps {
		assert.GreaterOrEqual(t, gap, 3*time.Second, "%s: the test starts once the service listens, 3 s after it started", pod)
	}
	require.Equal(t, 0, res.Exit, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	assert.Less(t, res.Wall, time.Minute, "the run ends within a minute")
	c.RequireNoRunPods(t, ns)

	cases := byKey(readReport(t, report))
	require.Len(t, cases, 2)
	for key, tc := range cases {
		assert.Equal(t, junit.StatusPassed, tc.Status(), key)
		attempt, _ := tc.Property(junit.PropertyAttempt)
		assert.Equal(t, "1", attempt, "%s passed on its first attempt", key)
	}
}

// TestServiceNeverReady: a service whose probe never passes ends each test
// as an infrastructure error naming it, within the pending timeout.
func TestServiceNeverReady(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-svc-stuck")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	tmpl := c.serviceTemplate(t, func(s string) string {
		return strings.Replace(s, `"sleep 3; exec python3 -m http.server 8000 --directory /ws"`, `"exec sleep 3600"`, 1)
	})

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report,
		"--pod-template", tmpl, "--pending-timeout", "20s"), Testdata("services"))...)
	t.Logf("run took %s", res.Wall)
	assert.Equal(t, 2, res.Exit, "an infrastructure error, not a test failure")
	assert.Less(t, res.Wall, 90*time.Second, "bounded by the pending timeout")
	c.RequireNoRunPods(t, ns)

	cases := byKey(readReport(t, report))
	require.Len(t, cases, 2)
	for key, tc := range cases {
		require.NotNil(t, tc.Error, key)
		assert.Nil(t, tc.Failure, key)
		assert.Equal(t, k8s.ReasonServiceNotReady, tc.Error.Type, key)
		assert.Contains(t, tc.Error.Message, `service "web" not ready`, key)
		assert.Contains(t, tc.Error.Message, "20s", key)
	}
}

// watchStarts records, for each test pod in ns, how long after service the
// test container started, as the pods' statuses say while they exist.
func (c *Cluster) watchStarts(ctx context.Context, t *testing.T, ns, service string) func() map[string]time.Duration {
	t.Helper()
	started := func(cs corev1.ContainerStatus) time.Time {
		switch {
		case cs.State.Running != nil:
			return cs.State.Running.StartedAt.Time
		case cs.State.Terminated != nil:
			return cs.State.Terminated.StartedAt.Time
		}
		return time.Time{}
	}
	var mu sync.Mutex
	gaps := map[string]time.Duration{}
	// A watch sees every status a pod had, however briefly: a test that
	// ends at once and is deleted at once has one with both start times.
	w, _ := c.WatchPods(ctx, t, ns, k8s.LabelRole+"=test")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			var svc, test time.Time
			for _, cs := range p.Status.InitContainerStatuses {
				if cs.Name == service {
					svc = started(cs)
				}
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name == k8s.TestContainer {
					test = started(cs)
				}
			}
			if !svc.IsZero() && !test.IsZero() {
				mu.Lock()
				gaps[p.Name] = test.Sub(svc)
				mu.Unlock()
			}
		}
	}()
	return func() map[string]time.Duration {
		w.Stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return gaps
	}
}

// TestServiceWithoutNativeSidecars runs the services as regular containers
// (--sidecar container): the shim waits for each service's probe before
// pytest, the tests pass on their first attempt, the services do not keep the
// run waiting, and a service that never listens ends its test as
// ServiceNotReady.
func TestServiceWithoutNativeSidecars(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-svc-plain")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report,
		"--pod-template", c.serviceTemplate(t, nil), "--sidecar", "container", "--retries", "2"), Testdata("services"))...)
	t.Logf("run took %s", res.Wall)
	require.Equal(t, 0, res.Exit, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	assert.Less(t, res.Wall, time.Minute, "the run ends within a minute")
	c.RequireNoRunPods(t, ns)
	for key, tc := range byKey(readReport(t, report)) {
		attempt, _ := tc.Property(junit.PropertyAttempt)
		assert.Equal(t, "1", attempt, "%s passed on its first attempt", key)
	}

	stuck := c.serviceTemplate(t, func(s string) string {
		return strings.Replace(s, `"sleep 3; exec python3 -m http.server 8000 --directory /ws"`, `"exec sleep 3600"`, 1)
	})
	res = c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report,
		"--pod-template", stuck, "--sidecar", "container", "--pending-timeout", "15s"), Testdata("services"))...)
	t.Logf("run took %s", res.Wall)
	assert.Equal(t, 2, res.Exit)
	assert.Less(t, res.Wall, 90*time.Second)
	c.RequireNoRunPods(t, ns)
	cases := byKey(readReport(t, report))
	require.Len(t, cases, 2)
	for key, tc := range cases {
		require.NotNil(t, tc.Error, key)
		assert.Equal(t, k8s.ReasonServiceNotReady, tc.Error.Type, key)
		assert.Contains(t, tc.Error.Message, `service "web" not ready within 15s: tcp 127.0.0.1:8000`, key)
	}
}
