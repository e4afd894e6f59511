//go:build e2eaction

package action

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/test/support"
)

// quickStartRun is one run of the README's kind quick start.
type quickStartRun struct {
	j              *job
	api            *support.GitHubAPI
	stdout, stderr string
	exit           int
	took           time.Duration
	outs           map[string]string
	// artifact is the file the upload step would upload, in the workspace.
	artifact string
}

// runQuickStart runs the README's kind quick start on project against the
// kind cluster, as a runner runs it: the project is where project_path
// says in the workspace, kind's kubeconfig is written into the workspace by
// `kind get kubeconfig` (the module's go tool kind) where the step says,
// and the action's container gets the step's env: and with: (INPUT_*) and
// nothing else but machine, the inputs this machine needs (machineInputs).
func runQuickStart(ctx context.Context, t *testing.T, project string, machine map[string]string) *quickStartRun {
	t.Helper()
	q := readQuickStart(t)
	for k := range machine {
		require.True(t, machineInputs[k], "a kind test adds only machine inputs, not %s", k)
	}
	r := &quickStartRun{j: newJobAt(t, project, q.projectPath)}
	r.api = newGitHubAPI(t, r.j.gateway, false)

	// `kind get kubeconfig --name <cluster> >FILE`, hack/kind's cluster
	// standing for helm/kind-action's.
	t.Logf("README: kind get kubeconfig --name %s >%s; here the cluster is %s", q.kindName, q.kubeconfig, kindCluster.name)
	get := exec.CommandContext(ctx, "go", "tool", "kind", "get", "kubeconfig", "--name", kindCluster.name)
	get.Dir, get.Env = support.RepoRoot(), append(os.Environ(), "DOCKER_HOST="+s.dockerHost)
	kc, err := get.Output()
	require.NoError(t, err, "go tool kind get kubeconfig")
	require.Contains(t, string(kc), "kind-"+kindCluster.name, "kind's kubeconfig")
	dest := filepath.Join(r.j.workspace, filepath.FromSlash(q.kubeconfig))
	require.NoError(t, os.MkdirAll(filepath.Dir(dest), 0o755))
	require.NoError(t, os.WriteFile(dest, kc, 0o600))

	with := maps.Clone(q.with)
	maps.Copy(with, machine)
	r.j.stepEnv = q.env
	cmd := r.j.dockerRun(ctx, t, r.api.URL, with)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	_ = cmd.Run()
	r.took = time.Since(start)
	r.stdout, r.stderr, r.exit = stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
	t.Logf("docker run took %s, exit %d\nstderr:\n%s", r.took.Round(time.Second), r.exit, lastLines(r.stderr, 40))
	r.outs = readOutputs(t, filepath.Join(r.j.fileCommands, r.j.output))
	if q.artifactOutput != "" && r.outs[q.artifactOutput] != "" {
		r.artifact = filepath.Join(r.j.workspace, filepath.FromSlash(r.outs[q.artifactOutput]))
	}
	return r
}
