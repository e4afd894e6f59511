//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// startUntil starts the CLI with args and reads its stderr until a line
// starts with marker. It returns the running command, the stdout buffer and
// a function that waits for the command and returns all of stderr.
func (c *Cluster) startUntil(ctx context.Context, t *testing.T, marker string, args ...string) (*exec.Cmd, *bytes.Buffer, func() string) {
	t.Helper()
	cmd := c.Command(ctx, t, nil, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), marker) {
			break
		}
	}
	require.Contains(t, log.String(), marker, "the run never got to %q:\n%s", marker, log.String())
	return cmd, &stdout, func() string {
		rest, _ := io.ReadAll(stderr)
		_ = cmd.Wait()
		return log.String() + string(rest)
	}
}

// TestAPIServerRestartMidRun restarts the local cluster's API server while
// a run has tests in flight: the run re-establishes its watch, finishes
// every test and leaves no pod.
func TestAPIServerRestartMidRun(t *testing.T) {
	dir := os.Getenv("K8S_TESTRUN_CLUSTER_DIR")
	if dir == "" {
		t.Skip("K8S_TESTRUN_CLUSTER_DIR is not set: the API server of a cluster this test did not start is not restarted")
	}
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-restart")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	args := append(c.runArgs(t, ns, report, "--parallelism", "2"), Testdata("steady"))
	cmd, stdout, wait := c.startUntil(ctx, t, "PASSED  tests/test_steady.py::test_sleeps", args...)

	restart := exec.CommandContext(ctx, "go", "run", "./hack/cluster", "restart-apiserver", "--name", filepath.Base(dir), "--dir", dir)
	restart.Dir = filepath.Join("..", "..")
	out, err := restart.CombinedOutput()
	require.NoError(t, err, "restarting the API server:\n%s", out)
	t.Logf("%s", lastLine(string(out)))
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.LabelManagedBy + "=" + k8s.ManagedBy})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "the run is still under way when the API server is back")

	log := wait()
	t.Logf("stderr:\n%s\nstdout:\n%s", log, stdout)
	assert.Equal(t, 0, cmd.ProcessState.ExitCode(), "every test passed across the restart")
	cases := byKey(readReport(t, report))
	require.Len(t, cases, 6)
	for id, tc := range cases {
		assert.Nil(t, tc.Failure, id)
		assert.Nil(t, tc.Error, id)
	}
	c.RequireNoRunPods(t, ns)
}

// TestRunnerKilledThenGC kills the CLI with SIGKILL while its pods run:
// its pods stay, and `gc` removes them.
func TestRunnerKilledThenGC(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-sigkill")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	cmd, _, wait := c.startUntil(ctx, t, "PASSED  tests/test_slow.py::test_fast ", append(c.runArgs(t, ns, report), Testdata("slow"))...)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	wait()
	sel := metav1.ListOptions{LabelSelector: k8s.LabelManagedBy + "=" + k8s.ManagedBy}
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, sel)
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "a killed runner cleans up nothing")

	res := c.RunCLI(ctx, t, nil, "gc", "--namespace", ns, "--older-than", "0s")
	require.Equal(t, 0, res.Exit, "gc:\n%s", res.Stderr)
	require.Eventually(t, func() bool {
		p, err := c.Client.CoreV1().Pods(ns).List(ctx, sel)
		return err == nil && len(p.Items) == 0
	}, 30*time.Second, 200*time.Millisecond, "gc removed the killed run's pods")
}

// TestRegistryDownAtStart gives a repository on a registry that does not
// answer: the run ends with one line naming it and exit code 2, before any
// pod.
func TestRegistryDownAtStart(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-noreg")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	images := c.recordImages(ctx, t, ns)
	const down = "127.0.0.1:9/k8s-testrun/sample"
	res := c.RunCLI(ctx, t, nil, "run", "--namespace", ns, "--repository", down,
		"--base-image", c.BaseImage, "--junit", report, Testdata("sample"))
	assert.Equal(t, 2, res.Exit)
	assert.Contains(t, lastLine(res.Stderr), "127.0.0.1:9")
	assert.Empty(t, images(), "no pod was created")
	assert.NoFileExists(t, report)
}
