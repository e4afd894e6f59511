//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

const disruptedTest = "tests/test_disrupted.py::test_survives_disruption"

// TestInfraRetryAfterPodDeleted deletes a running test's pod through the
// API, as `kubectl delete pod` does, once the test has started: the test
// runs again in a fresh pod and passes, the run exits 0, and the report
// keeps the deleted attempt with its reason and times.
func TestInfraRetryAfterPodDeleted(t *testing.T) {
	testInfraRetry(t, "e2e-infra-delete", "PodDeleted", func(ctx context.Context, c *Cluster, ns, pod string) error {
		return c.Client.CoreV1().Pods(ns).Delete(ctx, pod, metav1.DeleteOptions{})
	})
}

// TestInfraRetryAfterEviction evicts a running test's pod through the
// Eviction API (policy/v1), as a node drain does.
func TestInfraRetryAfterEviction(t *testing.T) {
	testInfraRetry(t, "e2e-infra-evict", "Evicted", func(ctx context.Context, c *Cluster, ns, pod string) error {
		return c.Client.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns}})
	})
}

func testInfraRetry(t *testing.T, prefix, reason string, disrupt func(ctx context.Context, c *Cluster, ns, pod string) error) {
	c := Connect(t)
	ns := c.NewNamespace(t, prefix)
	ctx := Context(t, 5*time.Minute)
	dir := t.TempDir()
	report := filepath.Join(dir, "junit.xml")
	cmd := c.Command(ctx, t, nil, append(c.runArgs(t, ns, report, "--infra-retries", "2"), Testdata("disrupted"), "--", "tests/test_disrupted.py")...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// The first attempt's pod, once its test has started.
	var victim string
	deadline := time.Now().Add(4 * time.Minute)
	for victim == "" {
		select {
		case err := <-exited:
			t.Fatalf("the run ended before its test pod was disrupted: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "the test never started")
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.LabelRole + "=test," + k8s.LabelAttempt + "=1"})
		require.NoError(t, err)
		for _, p := range pods.Items {
			if p.Annotations[k8s.AnnotationTestID] != disruptedTest || p.Status.Phase != corev1.PodRunning {
				continue
			}
			if log, err := c.ContainerLog(ctx, ns, p.Name, k8s.TestContainer); err == nil && strings.Contains(log, "k8s-testrun-e2e: test started") {
				victim = p.Name
			}
		}
		if victim == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("disrupting pod %s mid-test", victim)
	require.NoError(t, disrupt(ctx, c, ns, victim))

	var err error
	select {
	case err = <-exited:
	case <-ctx.Done():
		t.Fatal("the run did not finish")
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.NoError(t, err, "the run exits 0: the disruption is not the test's failure")
	c.RequireNoRunPods(t, ns)

	// Progress goes to stderr, the closing summary to stdout.
	progress := stderr.String()
	assert.Contains(t, progress, "RERUN   "+disruptedTest)
	assert.Contains(t, progress, "attempt 1  "+reason+"  pod "+victim)
	assert.Contains(t, progress, "PASSED  "+disruptedTest)
	assert.Contains(t, stdout.String(), "2 passed")

	cases := byKey(readReport(t, report))
	tc, ok := cases["tests.test_disrupted::test_survives_disruption"]
	require.True(t, ok)
	assert.Equal(t, junit.StatusPassed, tc.Status())
	prop := func(name string) string {
		v, _ := tc.Property(name)
		return v
	}
	assert.Equal(t, "2", prop(junit.PropertyAttempt), "passed on the second attempt")
	assert.Equal(t, "error", prop("k8s-testrun.attempt.1.status"))
	assert.Equal(t, reason, prop("k8s-testrun.attempt.1.reason"))
	assert.Equal(t, "true", prop("k8s-testrun.attempt.1.infra-retry"))
	assert.Equal(t, "passed", prop("k8s-testrun.attempt.2.status"))
	_, flaky := tc.Property(junit.PropertyFlaky)
	assert.False(t, flaky, "a disruption does not make a test flaky")
	for _, name := range []string{"k8s-testrun.attempt.1.start", "k8s-testrun.attempt.1.end", "k8s-testrun.attempt.2.start", "k8s-testrun.attempt.2.end"} {
		ts, err := time.Parse(time.RFC3339, prop(name))
		assert.NoError(t, err, "%s is RFC 3339", name)
		assert.WithinDuration(t, time.Now(), ts, 10*time.Minute, name)
	}
	end1, _ := time.Parse(time.RFC3339, prop("k8s-testrun.attempt.1.end"))
	start2, _ := time.Parse(time.RFC3339, prop("k8s-testrun.attempt.2.start"))
	assert.True(t, !start2.Before(end1.Truncate(time.Second)), "attempt 2 started after attempt 1 ended")
	require.NotNil(t, tc.SystemOut)
	assert.Contains(t, tc.SystemOut.Text, "k8s-testrun attempt 1: error "+reason+" (infrastructure retry) pod "+victim)

	b, err := os.ReadFile(filepath.Join(dir, "attempts.json"))
	require.NoError(t, err, "attempts.json beside the report")
	var doc struct {
		Tests []struct {
			Test     string
			Status   string
			Attempts []struct {
				N      int
				Status string
				Reason string
				Infra  bool
				Pod    string
			}
		}
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	found := false
	for _, tt := range doc.Tests {
		if tt.Test != disruptedTest {
			continue
		}
		found = true
		assert.Equal(t, "passed", tt.Status)
		require.Len(t, tt.Attempts, 2)
		assert.Equal(t, reason, tt.Attempts[0].Reason)
		assert.True(t, tt.Attempts[0].Infra)
		assert.Equal(t, victim, tt.Attempts[0].Pod)
		assert.Equal(t, "passed", tt.Attempts[1].Status)
	}
	assert.True(t, found)
}

// TestSelfKillIsNotInfraRetried: a test that kills itself with SIGTERM
// exits as a deleted pod's test does, but its pod was not taken away: it is
// reported as killed, on its one attempt, with no infrastructure retry.
func TestSelfKillIsNotInfraRetried(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-infra-selfkill")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--infra-retries", "2"), Testdata("disrupted"), "--", "tests/test_self_kill.py")...)
	assert.NotEqual(t, 0, res.Exit)
	assert.NotContains(t, res.Stderr, "RERUN")
	c.RequireNoRunPods(t, ns)
	tc, ok := byKey(readReport(t, report))["tests.test_self_kill::test_kills_itself"]
	require.True(t, ok)
	require.NotNil(t, tc.Error)
	assert.Equal(t, "Killed", tc.Error.Type)
	v, _ := tc.Property(junit.PropertyAttempt)
	assert.Equal(t, "1", v, "one attempt")
	_, retried := tc.Property("k8s-testrun.attempt.1.infra-retry")
	assert.False(t, retried)
}
