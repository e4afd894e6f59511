//go:build e2eaction

package action

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/k8s-testrun/k8s-testrun/test/support"
)

const (
	headSHA  = support.HeadSHA
	mergeSHA = support.MergeSHA
	token    = "ghs_e2eActionTokenThatMustNeverShow012345"
)

// newGitHubAPI starts a fake GitHub API on addr, the machine's address on
// the job's network, where the action's container reaches it.
func newGitHubAPI(t *testing.T, addr string, refuse bool) *support.GitHubAPI {
	return support.NewGitHubAPI(t, addr, refuse)
}

// job is one job's runner directories and network, and the step that runs
// the action in it, as actions/runner lays them out.
type job struct {
	id                                 string
	workspace, temp, home, workflow    string
	fileCommands, output, summary      string
	network, gateway, namespace, event string
	// stepEnv is the step's env:, which the runner passes to the
	// container beside the inputs.
	stepEnv map[string]string
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newJob makes the job's directories, the workspace with the project in it,
// the event of a pull request, the network github_network_<id> and a
// namespace for the pods.
func newJob(t *testing.T, project string) *job {
	t.Helper()
	return newJobAt(t, project, filepath.Base(project))
}

// newJobAt is newJob with the project at dest in the workspace ("." for
// the workspace itself, as a checkout of the project's repository).
func newJobAt(t *testing.T, project, dest string) *job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := t.TempDir()
	j := &job{id: newID()}
	j.workspace = filepath.Join(root, "work", "r", "r")
	j.temp = filepath.Join(root, "work", "_temp")
	j.home = filepath.Join(j.temp, "_github_home")
	j.workflow = filepath.Join(j.temp, "_github_workflow")
	j.fileCommands = filepath.Join(j.temp, "_runner_file_commands")
	for _, d := range []string{j.workspace, j.home, j.workflow, j.fileCommands} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	j.output = "set_output_" + j.id
	j.summary = "step_summary_" + j.id
	for _, f := range []string{j.output, j.summary, "add_path_" + j.id, "set_env_" + j.id, "save_state_" + j.id} {
		require.NoError(t, os.WriteFile(filepath.Join(j.fileCommands, f), nil, 0o644))
	}
	cp := exec.Command("cp", "-a", project, filepath.Join(j.workspace, dest))
	if filepath.Clean(dest) == "." {
		cp = exec.Command("cp", "-a", project+"/.", j.workspace)
	}
	out, err := cp.CombinedOutput()
	require.NoError(t, err, "%s", out)
	j.event = `{"action": "synchronize", "number": 3, "pull_request": {"number": 3, "head": {"sha": "` + headSHA + `", "ref": "feature", "repo": {"full_name": "o/r"}}, "base": {"sha": "1111", "ref": "main", "repo": {"full_name": "o/r"}}}, "repository": {"full_name": "o/r"}}`
	require.NoError(t, os.WriteFile(filepath.Join(j.workflow, "event.json"), []byte(j.event), 0o644))

	j.network = "github_network_" + newID()
	_, err = docker(ctx, nil, "network", "create", "--label", testLabel, j.network)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := docker(cctx, nil, "network", "rm", j.network)
		assert.NoError(t, err, "the job's network is removed: nothing but the action container was on it")
	})
	j.gateway, err = gateway(ctx, j.network)
	require.NoError(t, err)

	j.namespace = "e2e-action-" + j.id[:8]
	_, err = s.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: j.namespace}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.client.CoreV1().Namespaces().Delete(cctx, j.namespace, metav1.DeleteOptions{})
	})
	return j
}

// inputs are the step's INPUT_ variables: every input of action.yml with
// its default, then the step's with:, as the runner sets them.
func inputs(t *testing.T, with map[string]string) map[string]string {
	b, err := os.ReadFile(filepath.Join(support.RepoRoot(), "action.yml"))
	require.NoError(t, err)
	var meta struct {
		Inputs map[string]struct {
			Default string `json:"default"`
		} `json:"inputs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &meta))
	require.NotEmpty(t, meta.Inputs)
	in := map[string]string{}
	for k, v := range meta.Inputs {
		in[k] = strings.ReplaceAll(v.Default, "${{ github.token }}", token)
	}
	for k, v := range with {
		_, ok := meta.Inputs[k]
		require.True(t, ok, "action.yml has no input %q", k)
		in[k] = v
	}
	return in
}

// inputEnv is the runner's name for an input's variable: INPUT_, then the
// name upper-cased with spaces as underscores; hyphens stay.
func inputEnv(name string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
}

// dockerRun is the command line of actions/runner's DockerRun for a
// container action (src/Runner.Worker/Container/DockerCommandManager.cs and
// Handlers/ContainerActionHandler.cs): the variables go by name, their
// values through the client's environment.
func (j *job) dockerRun(ctx context.Context, t *testing.T, apiURL string, with map[string]string) *exec.Cmd {
	fc := "/github/file_commands/"
	env := map[string]string{
		"HOME":                     "/github/home",
		"GITHUB_JOB":               "test",
		"GITHUB_REF":               "refs/pull/3/merge",
		"GITHUB_SHA":               mergeSHA,
		"GITHUB_REPOSITORY":        "o/r",
		"GITHUB_REPOSITORY_OWNER":  "o",
		"GITHUB_REPOSITORY_ID":     "1",
		"GITHUB_RUN_ID":            "99",
		"GITHUB_RUN_NUMBER":        "5",
		"GITHUB_RUN_ATTEMPT":       "1",
		"GITHUB_RETENTION_DAYS":    "90",
		"GITHUB_ACTOR":             "octocat",
		"GITHUB_TRIGGERING_ACTOR":  "octocat",
		"GITHUB_WORKFLOW":          "ci",
		"GITHUB_HEAD_REF":          "feature",
		"GITHUB_BASE_REF":          "main",
		"GITHUB_EVENT_NAME":        "pull_request",
		"GITHUB_SERVER_URL":        "https://github.example",
		"GITHUB_API_URL":           apiURL,
		"GITHUB_GRAPHQL_URL":       apiURL + "/graphql",
		"GITHUB_REF_NAME":          "3/merge",
		"GITHUB_REF_PROTECTED":     "false",
		"GITHUB_REF_TYPE":          "branch",
		"GITHUB_WORKSPACE":         "/github/workspace",
		"GITHUB_ACTION":            "__o_k8s-testrun",
		"GITHUB_ACTION_REPOSITORY": "o/k8s-testrun",
		"GITHUB_ACTION_REF":        "v1",
		"GITHUB_EVENT_PATH":        "/github/workflow/event.json",
		"GITHUB_PATH":              fc + "add_path_" + j.id,
		"GITHUB_ENV":               fc + "set_env_" + j.id,
		"GITHUB_STEP_SUMMARY":      fc + j.summary,
		"GITHUB_STATE":             fc + "save_state_" + j.id,
		"GITHUB_OUTPUT":            fc + j.output,
		"RUNNER_OS":                "Linux",
		"RUNNER_ARCH":              "X64",
		"RUNNER_NAME":              "GitHub Actions 2",
		"RUNNER_ENVIRONMENT":       "github-hosted",
		"RUNNER_TOOL_CACHE":        "/opt/hostedtoolcache",
		"RUNNER_TEMP":              "/home/runner/work/_temp",
		"RUNNER_WORKSPACE":         "/home/runner/work/r",
		"ACTIONS_RUNTIME_URL":      "https://pipelines.example/",
		"ACTIONS_RUNTIME_TOKEN":    "runtime-token-not-for-the-action",
		"ACTIONS_CACHE_URL":        "https://cache.example/",
	}
	for k, v := range inputs(t, with) {
		env[inputEnv(k)] = v
	}
	for k, v := range j.stepEnv {
		env[k] = v
	}
	args := []string{"run",
		"--name", "o_k8s-testrun_" + j.id,
		"--label", "4d5e6f",
		"--workdir", "/github/workspace",
		"--rm",
	}
	var cmdEnv []string
	for k, v := range env {
		args = append(args, "-e", k)
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	args = append(args, "-e", "GITHUB_ACTIONS=true", "-e", "CI=true", "--network", j.network)
	socket := strings.TrimPrefix(s.dockerHost, "unix://")
	for _, m := range [][2]string{
		{socket, "/var/run/docker.sock"},
		{j.temp, "/github/runner_temp"},
		{j.home, "/github/home"},
		{j.workflow, "/github/workflow"},
		{j.fileCommands, "/github/file_commands"},
		{j.workspace, "/github/workspace"},
	} {
		args = append(args, "-v", m[0]+":"+m[1])
	}
	// action.yml's args.
	args = append(args, actionImage, "action")
	cmd := exec.CommandContext(ctx, dockerBin, args...)
	cmd.Env = append(os.Environ(), cmdEnv...)
	return cmd
}

// commonInputs are the step's with: of every test.
func commonInputs(j *job, project string) map[string]string {
	in := map[string]string{
		"project_path": project,
		"base_image":   kindRegistryName(s.baseImage),
		"kubeconfig":   string(s.kubeconfig),
		"namespace":    j.namespace,
		"timeout":      "5m",
		"check_name":   "k8s-testrun e2e",
	}
	return in
}

// kindRegistryName is ref at kind-registry:5000, which is how a workflow
// names an image it pushed to kind's registry.
func kindRegistryName(ref string) string {
	_, path, _ := strings.Cut(ref, "/")
	return kindRegistry + "/" + path
}

// kindRegistry is kind's local registry as its nodes and the kind network
// name it.
const kindRegistry = "kind-registry:5000"

func readOutputs(t *testing.T, path string) map[string]string { return support.ReadOutputs(t, path) }

func requireNoPods(t *testing.T, ns string) {
	t.Helper()
	support.RequireNoRunPods(t, s.client, ns)
}

func requireNoContainer(t *testing.T, j *job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := docker(ctx, nil, "ps", "-aq", "--filter", "name=o_k8s-testrun_"+j.id)
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(string(out)), "the action's container is gone (--rm)")
}

// TestActionAsGitHubRunsIt runs the action on a project with 60 failing
// tests, in one pod, for a pull request.
func TestActionAsGitHubRunsIt(t *testing.T) {
	j := newJob(t, filepath.Join("testdata", "manyfail"))
	api := newGitHubAPI(t, j.gateway, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	with := commonInputs(j, "manyfail")
	with["pod_per"] = "file"
	with["junit_path"] = "reports/junit.xml"
	before := s.registryConns.Load()

	cmd := j.dockerRun(ctx, t, api.URL, with)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("docker run took %s, exit %d\nstderr:\n%s", time.Since(start).Round(time.Second), cmd.ProcessState.ExitCode(), lastLines(stderr.String(), 40))
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the step fails: tests failed\nstdout:\n%s", lastLines(stdout.String(), 40))
	assert.Equal(t, 1, cmd.ProcessState.ExitCode(), "1: tests failed\nstdout:\n%s", lastLines(stdout.String(), 40))

	assert.True(t, strings.HasPrefix(stdout.String(), "::add-mask::"+token+"\n"), "the token is masked first")
	assert.Equal(t, 1, strings.Count(stdout.String()+stderr.String(), token), "the token shows only in its mask command")
	assert.NotContains(t, stdout.String()+stderr.String(), "runtime-token-not-for-the-action")

	// The JUnit file, in the workspace, where junit_path says.
	report, err := os.ReadFile(filepath.Join(j.workspace, "reports", "junit.xml"))
	require.NoError(t, err, "the JUnit file is in the workspace")
	assert.Equal(t, 61, strings.Count(string(report), "<testcase "), "61 test cases")
	assert.Equal(t, 60, strings.Count(string(report), "<failure"), "60 failures")

	outs := readOutputs(t, filepath.Join(j.fileCommands, j.output))
	assert.Equal(t, "61", outs["total"])
	assert.Equal(t, "1", outs["passed"])
	assert.Equal(t, "60", outs["failed"])
	assert.Equal(t, "reports/junit.xml", outs["junit_path"])
	assert.Equal(t, "https://github.example/o/r/runs/7", outs["check_url"])
	assert.True(t, strings.HasPrefix(outs["image"], kindRegistry+"/"), "the image output names the image as kind's nodes pull it: %s", outs["image"])
	assert.Contains(t, outs["image"], "@sha256:")
	assert.Greater(t, s.registryConns.Load(), before, "the image was pushed through kind-registry on the kind network")
	assert.Contains(t, stdout.String()+stderr.String(), "kind-registry:5000", "the action says it pushes to kind-registry")

	summary, err := os.ReadFile(filepath.Join(j.fileCommands, j.summary))
	require.NoError(t, err)
	assert.Contains(t, string(summary), "### ❌ k8s-testrun: ")
	assert.Contains(t, string(summary), "| **Total** | **61** |")

	reqs := api.Got()
	require.GreaterOrEqual(t, len(reqs), 4, "create, two batches of annotations, completion")
	create := reqs[0]
	assert.Equal(t, "POST", create.Method)
	assert.Equal(t, "/repos/o/r/check-runs", create.Path)
	assert.Equal(t, "Bearer "+token, create.Auth)
	assert.Equal(t, headSHA, create.Body["head_sha"], "the check run goes on the pull request's head from event.json")
	var batches []int
	total := 0
	for _, r := range reqs[1:] {
		out, _ := r.Body["output"].(map[string]any)
		as, _ := out["annotations"].([]any)
		if len(as) > 0 {
			assert.Equal(t, "PATCH", r.Method)
			assert.Equal(t, "/repos/o/r/check-runs/7", r.Path)
			batches = append(batches, len(as))
			total += len(as)
		}
	}
	assert.Equal(t, 60, total, "one annotation per failed test")
	for _, n := range batches {
		assert.LessOrEqual(t, n, 50, "the Checks API takes at most 50 annotations a request: %v", batches)
	}
	assert.GreaterOrEqual(t, len(batches), 2, "batches: %v", batches)
	done := reqs[len(reqs)-1]
	assert.Equal(t, "completed", done.Body["status"])
	assert.Equal(t, "failure", done.Body["conclusion"])

	requireNoPods(t, j.namespace)
	requireNoContainer(t, j)
}

// TestActionFromAFork runs with a token that cannot write checks, as on a
// fork's pull request: the API answers 403, the step does not fail for it
// and the failures become workflow-command annotations in the log.
func TestActionFromAFork(t *testing.T) {
	j := newJob(t, filepath.Join(support.RepoRoot(), "testdata", "injection"))
	api := newGitHubAPI(t, j.gateway, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	with := commonInputs(j, "injection")
	with["fail_on"] = "errors"

	cmd := j.dockerRun(ctx, t, api.URL, with)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("exit %d\nstderr:\n%s", cmd.ProcessState.ExitCode(), lastLines(stderr.String(), 30))
	require.NoError(t, err, "a read-only token never fails the step, and fail_on=errors tolerates the failing test\nstdout:\n%s", lastLines(stdout.String(), 40))
	reqs := api.Got()
	require.Len(t, reqs, 1, "one create, refused, and nothing after")
	assert.Equal(t, headSHA, reqs[0].Body["head_sha"])

	var annotations []string
	notes := 0
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "::error file=testdata/injection/") || strings.HasPrefix(line, "::error file=injection/") {
			annotations = append(annotations, line)
		}
		if strings.HasPrefix(line, "::") && strings.Contains(line, "No check run") {
			notes++
		}
	}
	require.NotEmpty(t, annotations, "the failure is annotated with a workflow command\nstdout:\n%s", lastLines(stdout.String(), 40))
	assert.Contains(t, annotations[0], "test_fails_with_a_command_in_its_message")
	assert.Equal(t, 1, notes, "the fallback is said once")

	outs := readOutputs(t, filepath.Join(j.fileCommands, j.output))
	assert.Equal(t, "2", outs["total"])
	assert.Equal(t, "1", outs["failed"])
	assert.Equal(t, "", outs["check_url"])
	summary, err := os.ReadFile(filepath.Join(j.fileCommands, j.summary))
	require.NoError(t, err)
	assert.Contains(t, string(summary), "No check run")
	requireNoPods(t, j.namespace)
	requireNoContainer(t, j)
}

// TestActionCancelled cancels the step as GitHub does: SIGINT to `docker
// run`, which forwards it to the container, SIGTERM 7.5 s later, then a
// kill. The action ends before the SIGTERM: the check run is cancelled,
// the partial report and outputs are written and no pod is left.
func TestActionCancelled(t *testing.T) {
	j := newJob(t, filepath.Join(support.RepoRoot(), "testdata", "slow"))
	api := newGitHubAPI(t, j.gateway, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := j.dockerRun(ctx, t, api.URL, commonInputs(j, "slow"))
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
	require.Contains(t, log.String(), "test_fast", "the run never got to the fast test:\n%s\nstderr:\n%s", log.String(), lastLines(stderr.String(), 30))

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	done := make(chan struct{})
	var rest []byte
	go func() {
		rest, _ = io.ReadAll(stdout)
		_ = cmd.Wait()
		close(done)
	}()
	escalated := ""
	select {
	case <-done:
	case <-time.After(7500 * time.Millisecond):
		escalated = "SIGTERM"
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			escalated = "kill"
			_ = cmd.Process.Kill()
			<-done
		}
	}
	exited := time.Since(start)
	t.Logf("exit %d %s after SIGINT\nstdout:\n%s%s\nstderr:\n%s", cmd.ProcessState.ExitCode(), exited, log.String(), rest, lastLines(stderr.String(), 30))
	assert.Empty(t, escalated, "the action ends on the SIGINT, before GitHub's SIGTERM")
	assert.Equal(t, 2, cmd.ProcessState.ExitCode(), "the container's exit code, through docker run")
	requireNoPods(t, j.namespace)

	reqs := api.Got()
	require.NotEmpty(t, reqs)
	last := reqs[len(reqs)-1]
	assert.Equal(t, "completed", last.Body["status"])
	assert.Equal(t, "cancelled", last.Body["conclusion"])
	summary, err := os.ReadFile(filepath.Join(j.fileCommands, j.summary))
	require.NoError(t, err)
	assert.Contains(t, string(summary), "cancelled: 1 passed, 2 not run")
	outs := readOutputs(t, filepath.Join(j.fileCommands, j.output))
	assert.Equal(t, "3", outs["total"])
	assert.Equal(t, "1", outs["passed"])
	report, err := os.ReadFile(filepath.Join(j.workspace, "k8s-testrun-junit.xml"))
	require.NoError(t, err, "the partial report is written")
	assert.Equal(t, 3, strings.Count(string(report), "<testcase "), "the partial report lists every test")
	// docker run --rm removes the container once it exits.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := docker(ctx, nil, "ps", "-aq", "--filter", "name=o_k8s-testrun_"+j.id)
		if strings.TrimSpace(string(out)) == "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	requireNoContainer(t, j)
}
