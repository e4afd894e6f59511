//go:build e2e

package e2e

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/test/support"
)

// step is one action step's files and environment, as a runner sets them.
type step struct {
	dir, output, summary, junit string
	env                         []string
}

const (
	headSHA  = support.HeadSHA
	mergeSHA = support.MergeSHA
	token    = "ghs_e2eTokenThatMustNeverShow0123456789"
)

func (c *Cluster) actionStep(t *testing.T, apiURL, ns, project string, inputs map[string]string) step {
	t.Helper()
	dir := t.TempDir()
	s := step{dir: dir, output: filepath.Join(dir, "output"), summary: filepath.Join(dir, "summary.md"), junit: filepath.Join(dir, "junit.xml")}
	event := `{"pull_request": {"number": 3, "head": {"sha": "` + headSHA + `", "repo": {"full_name": "o/r"}}, "base": {"sha": "1111", "repo": {"full_name": "o/r"}}}}`
	eventPath := filepath.Join(dir, "event.json")
	require.NoError(t, os.WriteFile(eventPath, []byte(event), 0o644))
	for _, f := range []string{s.output, s.summary} {
		require.NoError(t, os.WriteFile(f, nil, 0o644))
	}
	kubeconfig, err := os.ReadFile(os.Getenv(EnvKubeconfig))
	require.NoError(t, err)

	in := map[string]string{
		"project_path": project, "requirements": "", "base_image": c.BaseImage,
		"repository": c.Repository(t), "kubeconfig": string(kubeconfig), "namespace": ns,
		"parallelism": "4", "timeout": "5m", "retries": "0", "pytest_args": "",
		"token": token, "check_name": "k8s-testrun e2e", "fail_on": "failures",
		"junit_path": s.junit, "pod_template": "",
	}
	for k, v := range inputs {
		in[k] = v
	}
	s.env = []string{
		"GITHUB_ACTIONS=true", "CI=true",
		"GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" + eventPath,
		"GITHUB_SHA=" + mergeSHA, "GITHUB_REPOSITORY=o/r", "GITHUB_REPOSITORY_OWNER=o",
		"GITHUB_API_URL=" + apiURL, "GITHUB_SERVER_URL=https://github.example",
		"GITHUB_RUN_ID=99", "GITHUB_RUN_ATTEMPT=1",
		"GITHUB_WORKSPACE=" + support.RepoRoot(),
		"GITHUB_OUTPUT=" + s.output, "GITHUB_STEP_SUMMARY=" + s.summary,
		// The action must not lean on the registry variable the CLI reads.
		"K8S_TESTRUN_REGISTRY=",
	}
	for k, v := range in {
		// The runner's own rule: INPUT_ and the name upper-cased, spaces
		// to underscores; hyphens stay.
		s.env = append(s.env, "INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))+"="+v)
	}
	return s
}

// readOutputs parses GITHUB_OUTPUT's name<<DELIMITER blocks.
func readOutputs(t *testing.T, path string) map[string]string { return support.ReadOutputs(t, path) }

// newChecksAPI starts a fake GitHub API on this machine, which runs the
// action.
func newChecksAPI(t *testing.T, refuse bool) (api, srv *support.GitHubAPI) {
	api = support.NewGitHubAPI(t, "127.0.0.1", refuse)
	return api, api
}

// unfenced returns the lines of a step's log that the runner would read for
// commands: those outside stop-commands fences. Like the runner, it ignores
// leading whitespace.
func unfenced(t *testing.T, log string) (outside, inside []string) {
	token := ""
	for _, line := range strings.Split(log, "\n") {
		l := strings.TrimLeft(line, " \t")
		switch {
		case token != "":
			if l == "::"+token+"::" {
				token = ""
				continue
			}
			inside = append(inside, line)
		case strings.HasPrefix(l, "::stop-commands::"):
			token = strings.TrimPrefix(l, "::stop-commands::")
			require.GreaterOrEqual(t, len(token), 32, "a fence token is long and random")
		default:
			outside = append(outside, line)
		}
	}
	assert.Empty(t, token, "every fence is closed")
	return outside, inside
}

// TestActionReportsToGitHub runs the action on the sample project as a
// runner would for a pull request, against a recording GitHub API.
func TestActionReportsToGitHub(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-action")
	api, srv := newChecksAPI(t, false)
	s := c.actionStep(t, srv.URL, ns, "testdata/sample", nil)

	// No arguments: GITHUB_ACTIONS=true makes it the action.
	res := c.RunCLI(Context(t, 5*time.Minute), t, s.env)
	assert.Equal(t, 1, res.Exit, "the sample has failing tests on purpose")
	t.Logf("wall %s", res.Wall)

	// Secrets: the token is masked before anything else, and never printed
	// otherwise.
	assert.True(t, strings.HasPrefix(res.Stdout, "::add-mask::"+token+"\n"), "the token is masked first")
	assert.Equal(t, 1, strings.Count(res.Stdout+res.Stderr, token), "the token shows only in its mask command")

	ts := readReport(t, s.junit)
	require.Len(t, ts.Suites, 1)
	cases := ts.Suites[0].Testcases
	require.Len(t, cases, 12)
	counts := map[junit.Status]int{}
	for _, tc := range cases {
		counts[tc.Status()]++
	}

	outs := readOutputs(t, s.output)
	assert.Equal(t, "12", outs["total"])
	assert.Equal(t, itoa(counts[junit.StatusPassed]), outs["passed"])
	assert.Equal(t, itoa(counts[junit.StatusFailed]), outs["failed"])
	assert.Equal(t, itoa(counts[junit.StatusError]), outs["errors"])
	assert.Equal(t, itoa(counts[junit.StatusSkipped]), outs["skipped"])
	assert.Equal(t, "0", outs["flaky"])
	assert.NotEmpty(t, outs["duration"])
	assert.Equal(t, s.junit, outs["junit_path"])
	assert.True(t, strings.HasPrefix(outs["image"], c.Repository(t)+"@sha256:"), "image output: %s", outs["image"])
	assert.Equal(t, "https://github.example/o/r/runs/7", outs["check_url"])
	assert.Equal(t, filepath.Join(filepath.Dir(s.junit), "attempts.json"), outs["attempts"], "every attempt, beside the report")
	attempts, err := os.ReadFile(outs["attempts"])
	require.NoError(t, err)
	assert.Equal(t, 12, strings.Count(string(attempts), `"test":`), "one entry per test")

	summary, err := os.ReadFile(s.summary)
	require.NoError(t, err)
	t.Logf("job summary:\n%s", summary)
	for _, want := range []string{
		"### ❌ k8s-testrun: ",
		"| ✅ Passed | " + outs["passed"] + " |",
		"| ❌ Failed | " + outs["failed"] + " |",
		"| **Total** | **12** |",
		"**Check run:** [k8s-testrun e2e](https://github.example/o/r/runs/7)",
		"❌ **`tests/test_basic.py::test_fails_with_message`** at [`testdata/sample/tests/test_basic.py:10`](https://github.example/o/r/blob/" + headSHA + "/testdata/sample/tests/test_basic.py#L10)",
		"expected three apples",
		"#### Slowest",
	} {
		assert.Contains(t, string(summary), want)
	}

	reqs := api.Got()
	require.GreaterOrEqual(t, len(reqs), 3, "create, annotations, completion")
	create := reqs[0]
	assert.Equal(t, "POST", create.Method)
	assert.Equal(t, "/repos/o/r/check-runs", create.Path)
	assert.Equal(t, "Bearer "+token, create.Auth)
	assert.Equal(t, headSHA, create.Body["head_sha"], "the check goes on the pull request's head, not the merge commit")
	assert.Equal(t, "in_progress", create.Body["status"])
	assert.Equal(t, "k8s-testrun e2e", create.Body["name"])
	assert.Equal(t, "https://github.example/o/r/actions/runs/99", create.Body["details_url"])

	var annotations []map[string]any
	for _, r := range reqs[1 : len(reqs)-1] {
		assert.Equal(t, "PATCH", r.Method)
		assert.Equal(t, "/repos/o/r/check-runs/7", r.Path)
		for _, a := range r.Body["output"].(map[string]any)["annotations"].([]any) {
			annotations = append(annotations, a.(map[string]any))
		}
	}
	assert.Len(t, annotations, counts[junit.StatusFailed]+counts[junit.StatusError], "one annotation per failed or errored test")
	found := false
	for _, a := range annotations {
		if strings.Contains(a["title"].(string), "test_fails_with_message") {
			found = true
			assert.Equal(t, "testdata/sample/tests/test_basic.py", a["path"])
			assert.Equal(t, float64(10), a["start_line"], "the line that failed")
			assert.Equal(t, "failure", a["annotation_level"])
			assert.Contains(t, a["message"], "expected three apples")
		}
	}
	assert.True(t, found, "an annotation for test_fails_with_message: %v", annotations)
	done := reqs[len(reqs)-1]
	assert.Equal(t, "completed", done.Body["status"])
	assert.Equal(t, "failure", done.Body["conclusion"])
	assert.Contains(t, done.Body["output"].(map[string]any)["summary"], "expected three apples")

	outside, inside := unfenced(t, res.Stdout)
	assert.Contains(t, strings.Join(outside, "\n"), "::group::❌ FAILED tests/test_basic.py::test_fails_with_message")
	assert.NotEmpty(t, inside, "test output is shown, fenced")
	c.RequireNoRunPods(t, ns)
}

// TestActionFromAForkIsSafe runs a project whose tests print workflow
// commands, with a token that cannot write checks, as on a fork's pull
// request: no test line reaches the runner as a command, the step falls
// back to annotations from the log and says so once, and fail_on=errors
// lets the failing test pass the step.
func TestActionFromAForkIsSafe(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-action-fork")
	api, srv := newChecksAPI(t, true)
	s := c.actionStep(t, srv.URL, ns, "testdata/injection", map[string]string{"fail_on": "errors"})

	res := c.RunCLI(Context(t, 5*time.Minute), t, s.env, "action")
	assert.Equal(t, 0, res.Exit, "a read-only token never fails the step, and fail_on=errors tolerates test failures")
	assert.Len(t, api.Got(), 1, "one create, refused, and nothing after")

	outside, inside := unfenced(t, res.Stdout)
	all := strings.Join(inside, "\n")
	for _, l := range []string{"::error::injected-error-from-stdout", "::set-output name=injected::from-stdout", "::error::injected-error-from-stderr"} {
		assert.Contains(t, all, l, "the test's output is in the log, fenced")
	}
	var ours []string
	for _, line := range outside {
		l := strings.TrimLeft(line, " \t")
		if !strings.HasPrefix(l, "::") {
			assert.NotContains(t, l, "injected", "test text outside a fence")
			continue
		}
		ours = append(ours, l)
		switch {
		case strings.HasPrefix(l, "::group::"), l == "::endgroup::",
			strings.HasPrefix(l, "::add-mask::") && !strings.Contains(l, "not-a-secret"),
			strings.HasPrefix(l, "::warning::k8s-testrun: "),
			strings.HasPrefix(l, "::error file=testdata/injection/tests/test_injection.py,line="):
		default:
			t.Errorf("a line outside the fences is not one of k8s-testrun's commands: %q", l)
		}
	}
	notes := 0
	var annotation string
	for _, l := range ours {
		if strings.Contains(l, "No check run") {
			notes++
			assert.Contains(t, l, "Resource not accessible by integration")
		}
		if strings.HasPrefix(l, "::error file=") {
			annotation = l
		}
	}
	assert.Equal(t, 1, notes, "the fallback is said once")
	require.NotEmpty(t, annotation, "the failure is annotated from the log")
	assert.Contains(t, annotation, "title=FAILED tests/test_injection.py%3A%3Atest_fails_with_a_command_in_its_message")
	assert.Contains(t, annotation, "%0A", "the message's newlines are escaped, so its second line is no command")

	summary, err := os.ReadFile(s.summary)
	require.NoError(t, err)
	assert.Contains(t, string(summary), "No check run")
	assert.Contains(t, string(summary), "test_fails_with_a_command_in_its_message")
	outs := readOutputs(t, s.output)
	assert.Equal(t, "2", outs["total"])
	assert.Equal(t, "1", outs["failed"])
	assert.Equal(t, "", outs["check_url"])
	c.RequireNoRunPods(t, ns)
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestActionCancelled sends what GitHub sends on cancellation, SIGINT, while
// slow tests run: the pods go, the check run is completed as cancelled, and
// the partial report, summary and outputs are written, all before the
// SIGTERM that would follow 7.5 s later.
func TestActionCancelled(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-action-cancel")
	api, srv := newChecksAPI(t, false)
	s := c.actionStep(t, srv.URL, ns, "testdata/slow", nil)
	ctx := Context(t, 5*time.Minute)

	cmd := c.Command(ctx, t, s.env)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var log strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "::group::✅ PASSED tests/test_slow.py::test_fast") {
			break
		}
	}
	require.Contains(t, log.String(), "test_fast", "the run never got to the fast test:\n%s", log.String())

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	rest, _ := io.ReadAll(stdout)
	_ = cmd.Wait()
	exited := time.Since(start)
	t.Logf("exit %d %s after SIGINT\nstdout:\n%s%s\nstderr:\n%s", cmd.ProcessState.ExitCode(), exited, log.String(), rest, stderr.String())
	assert.Equal(t, 2, cmd.ProcessState.ExitCode())
	assert.Less(t, exited, 7500*time.Millisecond, "done before GitHub's SIGTERM")
	c.RequireNoRunPods(t, ns)

	reqs := api.Got()
	require.NotEmpty(t, reqs)
	done := reqs[len(reqs)-1]
	assert.Equal(t, "completed", done.Body["status"])
	assert.Equal(t, "cancelled", done.Body["conclusion"])

	summary, err := os.ReadFile(s.summary)
	require.NoError(t, err)
	assert.Contains(t, string(summary), "### ⏹️ k8s-testrun: cancelled: 1 passed, 2 not run")
	assert.Contains(t, string(summary), "The workflow was cancelled")
	outs := readOutputs(t, s.output)
	assert.Equal(t, "3", outs["total"])
	assert.Equal(t, "1", outs["passed"])
	require.Len(t, readReport(t, s.junit).Suites[0].Testcases, 3, "the partial report lists every test")
}
