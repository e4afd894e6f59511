//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/runner"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// readReport reads a merged report as written (xml.Unmarshal, not
// junit.Parse, which would shift pytest's 0-based lines once more).
func readReport(t *testing.T, path string) junit.Testsuites {
	t.Helper()
	ts := readReports(t, path)
	require.Len(t, ts.Suites, 1)
	return ts
}

func byKey(ts junit.Testsuites) map[string]junit.Testcase {
	out := map[string]junit.Testcase{}
	for _, s := range ts.Suites {
		for _, tc := range s.Testcases {
			out[tc.Classname+"::"+tc.Name] = tc
		}
	}
	return out
}

func suiteProperty(ts junit.Testsuites, name string) string {
	for _, p := range ts.Suites[0].Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// runArgs are the flags of a run of the test's own; the cluster's base
// image unless extra names base images (each --base-image adds one).
func (c *Cluster) runArgs(t *testing.T, ns, junitPath string, extra ...string) []string {
	args := []string{"run",
		"--namespace", ns,
		"--repository", c.Repository(t),
		"--junit", junitPath,
		"--parallelism", "4",
	}
	if !slices.Contains(extra, "--base-image") {
		args = append(args, "--base-image", c.BaseImage)
	}
	return append(args, extra...)
}

// TestRunMatchesPlainPytest runs the sample project one pod per test and
// compares the merged report, test for test, with plain pytest run on the
// same project in the same image.
func TestRunMatchesPlainPytest(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-match")
	ctx := Context(t, 10*time.Minute)
	junitPath := filepath.Join(t.TempDir(), "junit.xml")
	artifacts := filepath.Join(t.TempDir(), "artifacts")

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, junitPath, "--artifacts", artifacts), Testdata("sample"))...)
	assert.Equal(t, 1, res.Exit, "the sample has failing tests: exit code 1, not an infrastructure error")
	assert.Contains(t, res.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
	c.RequireNoRunPods(t, ns)

	requirePipedProgress(t, res, sampleTests)

	ours := readReport(t, junitPath)
	image := suiteProperty(ours, "k8s-testrun.image")
	require.NotEmpty(t, image)

	plain := c.plainPytest(t, ns, image)
	ourCases, plainCases := byKey(ours), byKey(plain)
	require.Len(t, ourCases, 12)
	keys := func(m map[string]junit.Testcase) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return out
	}
	require.ElementsMatch(t, keys(plainCases), keys(ourCases), "the same test ids")
	for key, want := range plainCases {
		got := ourCases[key]
		assert.Equal(t, want.Status(), got.Status(), key)
		if d := want.Detail(); d != nil && want.Status() != junit.StatusPassed {
			require.NotNil(t, got.Detail(), key)
			assert.Equal(t, d.Message, got.Detail().Message, key)
		}
		assert.NotEmpty(t, got.File, key)
		assert.Positive(t, got.Line, key)
		assert.NotEmpty(t, got.Time, key)
		pod, ok := got.Property(junit.PropertyPod)
		assert.True(t, ok && pod != "", "%s has its pod", key)
		_, ok = got.Property(junit.PropertyImageDigest)
		assert.True(t, ok, "%s has the image digest", key)
	}
	failedOut := ourCases["tests.test_classes.TestArithmetic::test_sub_fails"]
	require.NotNil(t, failedOut.SystemOut, "captured output of a failing test")
	assert.Contains(t, failedOut.SystemOut.Text, "subtraction is off")
	artifact, err := os.ReadFile(filepath.Join(artifacts, report.ArtifactDir(plan.Case{
		ID: testid.CaseID("tests/test_classes.py::test_writes_artifact"), TestID: "tests/test_classes.py::test_writes_artifact",
	}), "report.txt"))
	require.NoError(t, err, "the artifact the test wrote")
	assert.Equal(t, "artifact from test_writes_artifact\n", string(artifact))
	failing := ourCases["tests.test_basic::test_fails_with_message"]
	assert.Equal(t, "tests/test_basic.py", failing.File)
	assert.Equal(t, 8, failing.Line)
}

// plainPytest runs the whole project in one pod of image and returns the
// JUnit pytest writes.
func (c *Cluster) plainPytest(t *testing.T, ns, image string) junit.Testsuites {
	t.Helper()
	log := c.runScript(t, ns, "plain-pytest", image, "python -m pytest -p no:cacheprovider -o junit_family=xunit1 --junitxml=/tmp/junit.xml >/dev/null 2>&1; cat /tmp/junit.xml")
	ts, err := junit.Parse(strings.NewReader(log))
	require.NoError(t, err, "plain pytest's JUnit:\n%s", log)
	return ts
}

// runScript runs the shell script in a pod named name of image, in the
// project's working directory, waits until it ends and returns its log.
// The pod is deleted at the test's cleanup.
func (c *Cluster) runScript(t *testing.T, ns, name, image, script string, env ...corev1.EnvVar) string {
	t.Helper()
	ctx := Context(t, 5*time.Minute)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:    "pytest",
				Image:   image,
				Env:     env,
				Command: []string{"sh", "-c", script},
			}},
		},
	}
	_, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Client.CoreV1().Pods(ns).Delete(Context(t, 30*time.Second), pod.Name, metav1.DeleteOptions{})
	})
	_, err = c.WaitForPod(ctx, ns, pod.Name, PodFinished)
	require.NoError(t, err)
	log, err := c.ContainerLog(ctx, ns, pod.Name, "pytest")
	require.NoError(t, err)
	return log
}

// TestRunWithDependencies builds a dependencies layer from a wheel shipped
// in testdata (no PyPI) and imports it in the test pods; a second run of the
// unchanged project runs no pip and uploads nothing. The second run uses the
// collector as a regular container, the fallback for servers without native
// sidecars.
func TestRunWithDependencies(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-deps")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	// A fresh copy with a requirements file no earlier run has seen, so the
	// first run must run pip whatever the registry holds.
	project := filepath.Join(t.TempDir(), "with-deps")
	require.NoError(t, os.CopyFS(project, os.DirFS(Testdata("with-deps"))))
	reqs := filepath.Join(project, "requirements.txt")
	b, err := os.ReadFile(reqs)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(reqs, append(b, []byte(fmt.Sprintf("# %d\n", time.Now().UnixNano()))...), 0o644))

	first := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "-v"), project)...)
	require.Equal(t, 0, first.Exit)
	assert.Contains(t, first.Stdout, "1 passed")
	assert.Contains(t, first.Stderr, "pip_ran=true")

	second := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "-v", "--sidecar", "container"), project)...)
	require.Equal(t, 0, second.Exit)
	assert.Contains(t, second.Stdout, "1 passed")
	assert.Contains(t, second.Stderr, "results_error=<nil>", "the regular-container collector shipped its results")
	assert.Contains(t, second.Stderr, "pip_ran=false")
	assert.Contains(t, second.Stderr, "uploaded_blobs=0 uploaded_bytes=0")
	c.RequireNoRunPods(t, ns)
}

// TestFailuresHaveReasons checks that a timeout and an OOM kill end their
// tests as errors with their reasons, within a bounded time.
func TestFailuresHaveReasons(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-limits")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	project := Testdata("limits")

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report,
		"--timeout", "20s", "--pod-template", filepath.Join(project, "pod-template.yaml")), project)...)
	assert.Equal(t, 2, res.Exit, "infrastructure reasons give the infrastructure exit code")
	assert.Less(t, res.Wall, 2*time.Minute, "the run never hangs")
	c.RequireNoRunPods(t, ns)

	cases := byKey(readReport(t, report))
	require.Len(t, cases, 2)
	timeout := cases["tests.test_limits::test_sleeps_past_timeout"]
	require.NotNil(t, timeout.Error, "a timeout is an error, not a failure")
	assert.Nil(t, timeout.Failure)
	assert.Equal(t, "DeadlineExceeded", timeout.Error.Type)
	assert.Contains(t, timeout.Error.Message, "timeout of 20s")

	oom := cases["tests.test_limits::test_allocates_past_memory_limit"]
	require.NotNil(t, oom.Error)
	assert.Nil(t, oom.Failure)
	assert.Equal(t, "OOMKilled", oom.Error.Type)
}

// TestUnschedulable checks a pod that can never be scheduled. Discovery is
// the first pod of a run, so the run stops there with the reason and the
// infrastructure exit code.
func TestUnschedulable(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-stuck")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	tmpl := filepath.Join(t.TempDir(), "tmpl.yaml")
	require.NoError(t, os.WriteFile(tmpl, []byte("nodeSelector: {k8s-testrun.io/no-such-node: \"true\"}\n"), 0o644))
	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--pod-template", tmpl, "--pending-timeout", "5s"), Testdata("sample"))...)
	assert.Equal(t, 2, res.Exit)
	assert.Contains(t, res.Stderr, "Unschedulable")
	assert.Contains(t, res.Stderr, "didn't match Pod's node affinity/selector")
	assert.Less(t, res.Wall, time.Minute)
	c.RequireNoRunPods(t, ns)

}

// TestImagePullFailure runs two cases whose image does not exist: each ends
// as an error with the pull reason, within the pending timeout, not as a
// test failure, and no pod remains.
func TestImagePullFailure(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-pull")
	ctx := Context(t, 3*time.Minute)
	cases := []plan.Case{
		{ID: testid.CaseID("tests/test_a.py::test_one"), TestID: "tests/test_a.py::test_one"},
		{ID: testid.CaseID("tests/test_a.py::test_two"), TestID: "tests/test_a.py::test_two"},
	}
	start := time.Now()
	results, err := runner.Run(ctx, runner.Options{
		Client: c.Client, Namespace: ns, RunID: "pullfail", Cases: cases, Parallelism: 2,
		Image:          c.Registry + "/e2e/no-such-image@sha256:" + strings.Repeat("0", 64),
		PendingTimeout: 20 * time.Second, NativeSidecar: true,
	})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), time.Minute, "bounded by the pending timeout")
	require.Len(t, results, 2)
	for _, r := range results {
		require.Len(t, r.Attempts, 1, r.Case.TestID)
		o := r.Attempts[0].Outcome
		assert.Equal(t, plan.Error, o.Status, r.Case.TestID)
		assert.Equal(t, k8s.ReasonImagePull, o.Reason, r.Case.TestID)
		assert.Contains(t, o.Message, "no-such-image", r.Case.TestID)
	}
	rep := report.NewReport("pullfail", "", "", start, time.Since(start), results)
	assert.Equal(t, 2, rep.Counts().Infra)
	c.RequireNoRunPods(t, ns)
}
