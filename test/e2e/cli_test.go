//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/test/support"
)

// EnvBinary names a prebuilt k8s-testrun binary, with k8s-testrun-pod beside
// it (make build); without it the tests build both once.
const EnvBinary = "K8S_TESTRUN_BINARY"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of a static linux k8s-testrun binary.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvBinary); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "k8s-testrun-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "k8s-testrun")
		for out, pkg := range map[string]string{binPath: "./cmd/action", filepath.Join(dir, "k8s-testrun-pod"): "./cmd/k8s-testrun-pod"} {
			cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
			cmd.Dir = support.RepoRoot()
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = errors.New(string(b))
				return
			}
		}
	})
	require.NoError(t, buildErr, "building k8s-testrun")
	return binPath
}

// Testdata returns the path of a project under testdata/.
func Testdata(name string) string { return filepath.Join(support.RepoRoot(), "testdata", name) }

// CLIResult is one finished k8s-testrun process.
type CLIResult struct {
	Stdout, Stderr string
	Exit           int
	Wall           time.Duration
}

// RunCLI runs k8s-testrun with args and the cluster's environment plus env.
func (c *Cluster) RunCLI(ctx context.Context, t testing.TB, env []string, args ...string) CLIResult {
	t.Helper()
	cmd := c.Command(ctx, t, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := CLIResult{Stdout: stdout.String(), Stderr: stderr.String(), Wall: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.Exit = exit.ExitCode()
	case err != nil:
		require.NoError(t, err, "running k8s-testrun")
	}
	t.Logf("k8s-testrun %s: exit %d in %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.Exit, res.Wall.Round(time.Millisecond), res.Stdout, res.Stderr)
	return res
}

// Command prepares a k8s-testrun process without starting it.
func (c *Cluster) Command(ctx context.Context, t testing.TB, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// Repository is a repository in the test registry for one test.
func (c *Cluster) Repository(t testing.TB) string {
	return c.Registry + "/e2e/" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
}

// RequireNoRunPods fails the test if any pod k8s-testrun created remains in
// namespace.
func (c *Cluster) RequireNoRunPods(t testing.TB, namespace string) {
	t.Helper()
	support.RequireNoRunPods(t, c.Client, namespace)
}

// sampleTests are the test ids of testdata/sample.
var sampleTests = []string{
	"tests/test_basic.py::test_passes",
	"tests/test_basic.py::test_fails_with_message",
	"tests/test_basic.py::test_skipped",
	"tests/test_basic.py::test_xfail",
	"tests/test_basic.py::test_xpass",
	"tests/test_basic.py::test_param[a b]",
	"tests/test_basic.py::test_param[x[1]]",
	"tests/test_basic.py::test_param[with::colons]",
	"tests/test_classes.py::TestArithmetic::test_add",
	"tests/test_classes.py::TestArithmetic::test_sub_fails",
	"tests/test_classes.py::test_writes_artifact",
	"tests/test_fixtures.py::test_uses_broken_fixture",
}

// verdictLine is a line of the run's progress in a pipe: the verdict, the
// test id, then its duration.
var verdictLine = regexp.MustCompile(`^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS|FLAKY|RERUN) +(\S.*?)  \d[^ ]*s  attempt \d+`)

// logLine is a key=value line of the logger.
var logLine = regexp.MustCompile(`(^|\s)(time|level|msg)=`)

// requirePipedProgress checks the output of a run whose stdout and stderr
// were pipes, as in a CI log: no logger line, and one verdict line for each
// of tests.
func requirePipedProgress(t *testing.T, res CLIResult, tests []string) {
	t.Helper()
	var logged []string
	for _, l := range strings.Split(res.Stdout+"\n"+res.Stderr, "\n") {
		if logLine.MatchString(l) {
			logged = append(logged, l)
		}
	}
	assert.Empty(t, logged, "no logger lines without -v")
	assert.NotContains(t, res.Stderr, "\x1b[", "no escape sequences in a pipe")
	seen := map[string]int{}
	for _, l := range strings.Split(res.Stderr, "\n") {
		if m := verdictLine.FindStringSubmatch(l); m != nil {
			seen[m[2]]++
		}
	}
	want := map[string]int{}
	for _, id := range tests {
		want[id] = 1
	}
	assert.Equal(t, want, seen, "one verdict line per test")
}

// TestBinaryVersion: the built binary names its Go and client-go versions.
func TestBinaryVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(Binary(t), args...).Output()
		require.NoError(t, err)
		assert.Regexp(t, `^k8s-testrun \S+\n`, string(out))
		assert.Contains(t, string(out), "go:         "+runtime.Version())
		assert.Regexp(t, `(?m)^client-go:  v0\.\d+\.\d+ \(Kubernetes 1\.\d+\.\d+\)$`, string(out))
	}
}

// TestRunProgressOnTerminal runs the sample under a pseudo-terminal: the
// status line is redrawn in place and its count of done tests advances to
// 12/12; failures are printed in full as they happen.
func TestRunProgressOnTerminal(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-tty")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	cmd := c.Command(ctx, t, []string{"NO_COLOR=1", "TERM=xterm"}, append(c.runArgs(t, ns, report, "--artifacts", t.TempDir()), Testdata("sample"))...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	require.NoError(t, err)
	var out bytes.Buffer
	// Reading ends with EIO once the process has exited and closed the
	// terminal.
	_, _ = io.Copy(&out, tty)
	err = cmd.Wait()
	tty.Close()
	text := out.String()
	t.Logf("terminal output:\n%q", text)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode(), "the sample has failing tests")

	var counts []int
	for _, m := range regexp.MustCompile(`\r\x1b\[K\[(\d+)/12\]`).FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		counts = append(counts, n)
	}
	require.NotEmpty(t, counts, "a live n/12 status line")
	assert.True(t, slices.IsSorted(counts), "the count never goes back: %v", counts)
	assert.Equal(t, 12, counts[len(counts)-1], "the count reaches 12/12")
	assert.GreaterOrEqual(t, len(slices.Compact(slices.Clone(counts))), 4, "the count advances in steps: %v", counts)
	assert.Contains(t, text, "FAILED  tests/test_basic.py::test_fails_with_message", "a failure is printed as it happens")
	assert.Contains(t, text, "expected three apples", "with its message")
	assert.NotContains(t, text, "PASSED  ", "passes only move the count")
	assert.NotContains(t, text, "\x1b[31m", "NO_COLOR")
	assert.NotRegexp(t, logLine, text, "no logger lines without -v")
	assert.Contains(t, text, "2 failed, 7 passed, 2 skipped, 1 error")
	assert.Regexp(t, `time in pods: \d+% waiting, \d+% starting, \d+% testing, \d+% collecting`, text, "the summary ends with where the pods' time went")
	c.RequireNoRunPods(t, ns)

	// The timeline beside the report names every test.
	for _, name := range []string{"timeline.html", "timeline.svg"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(report), name))
		require.NoError(t, err, name)
		for _, id := range sampleTests {
			assert.Contains(t, string(b), html.EscapeString(id), "%s names %s", name, id)
		}
	}
}
