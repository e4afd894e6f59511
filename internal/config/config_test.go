package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseRunDefaults(t *testing.T) {
	dir := t.TempDir()
	project := filepath.Join(dir, "My Project")
	require.NoError(t, os.Mkdir(project, 0o755))
	c, err := ParseRun([]string{project}, env(map[string]string{"KUBECONFIG": "/k", "K8S_TESTRUN_REGISTRY": "127.0.0.1:5001"}), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, project, c.ProjectDir)
	assert.Equal(t, "/k", c.Kubeconfig)
	assert.Equal(t, "127.0.0.1:5001/k8s-testrun/my-project", c.Repository)
	assert.Equal(t, []string{DefaultBaseImage}, c.BaseImages)
	assert.Equal(t, DefaultParallelism, c.Parallelism)
	assert.Equal(t, DefaultTimeout, c.Timeout)
	assert.Equal(t, DefaultJUnitPath, c.JUnitPath)
	assert.Equal(t, SidecarAuto, c.Sidecar)
	assert.Empty(t, c.Selection)
}

func TestParseRunSelectionAndFlags(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "localhost:5001/x", "--parallelism", "8", "--timeout", "90s", "--retries", "2",
		dir, "--", "tests/unit", "-k", "not slow", "-m", "fast"}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, dir, c.ProjectDir)
	assert.Equal(t, []string{"tests/unit", "-k", "not slow", "-m", "fast"}, c.Selection)
	assert.Equal(t, 8, c.Parallelism)
	assert.Equal(t, 90*time.Second, c.Timeout)
	assert.Equal(t, 2, c.Retries)
	assert.Equal(t, DefaultInfraRetries, c.InfraRetries, "infra retries default to 2")
}

func TestParseRunErrorsNameTheInputAndTheFix(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing project", []string{"--repository", "r.io/x", "/no/such/dir"}, []string{`project directory "/no/such/dir"`, "give the path"}},
		{"pull registry with a path", []string{"--repository", "r.io/x", "--pull-registry", "localhost:5001/x", dir}, []string{`pull registry "localhost:5001/x"`, "host[:port]"}},
		{"pull registry as a URL", []string{"--repository", "r.io/x", "--pull-registry", "http://localhost:5001", dir}, []string{`pull registry "http://localhost:5001"`, "without scheme"}},
		{"repository with digest", []string{"--repository", "r.io/x@sha256:abc", dir}, []string{`repository "r.io/x@sha256:abc"`, "without tag or digest"}},
		{"parallelism", []string{"--repository", "r.io/x", "--parallelism", "0", dir}, []string{`parallelism "0"`, "1 or more"}},
		{"retries", []string{"--repository", "r.io/x", "--retries", "-1", dir}, []string{`retries "-1"`}},
		{"infra retries", []string{"--repository", "r.io/x", "--infra-retries", "-1", dir}, []string{`infra retries "-1"`, "0 or more"}},
		{"infra retries not a number", []string{"--repository", "r.io/x", "--infra-retries", "two", dir}, []string{"infra-retries", `"two"`}},
		{"sidecar", []string{"--repository", "r.io/x", "--sidecar", "magic", dir}, []string{`sidecar "magic"`, "auto, native or container"}},
		{"platform", []string{"--repository", "r.io/x", "--platform", "amd64", dir}, []string{`platform "amd64"`, "os/arch"}},
		{"pod template", []string{"--repository", "r.io/x", "--pod-template", "/no/tmpl.yaml", dir}, []string{`pod template "/no/tmpl.yaml"`, "cannot be read"}},
		{"requirements", []string{"--repository", "r.io/x", "--requirements", "reqs.txt", dir}, []string{`requirements "reqs.txt"`, "relative to it"}},
		{"two projects", []string{"--repository", "r.io/x", dir, dir}, []string{"give one project directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRun(tt.args, env(nil), &bytes.Buffer{})
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{ProjectDir: "/no/such", Parallelism: 0, PendingTimeout: time.Minute, Sidecar: SidecarAuto, ResultLimit: DefaultResultLimit, JUnitPath: "j.xml", Platform: DefaultPlatform, BaseImages: []string{"b"},
		Repository: "r.io/x:tag", PullRegistry: "a/b"}
	err := c.LoadAndValidate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "project directory")
	assert.Contains(t, err.Error(), "repository")
	assert.Contains(t, err.Error(), "pull registry")
	assert.Contains(t, err.Error(), "parallelism")
}

func TestParseRunFlagsAfterProject(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{dir, "--repository", "localhost:5001/x", "-v", "--", "-k", "fast"}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, dir, c.ProjectDir)
	assert.True(t, c.Verbose)
	assert.Equal(t, []string{"-k", "fast"}, c.Selection)
}

// TestParseRunLeavesTheRepositoryToTheCluster: with no repository and no
// K8S_TESTRUN_REGISTRY, the cluster's advertised local registry is asked
// once it is reached, so parsing succeeds.
func TestParseRunLeavesTheRepositoryToTheCluster(t *testing.T) {
	c, err := ParseRun([]string{"--pull-registry", "localhost:5001", t.TempDir()}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Empty(t, c.Repository)
	assert.Equal(t, "localhost:5001", c.PullRegistry)
	e := MissingRepository("no ConfigMap")
	assert.Equal(t, "repository", e.Input)
	assert.Contains(t, e.Error(), "repository: is required")
	assert.Contains(t, e.Error(), "--repository localhost:5001/myproject")
	assert.Contains(t, e.Error(), "(no ConfigMap)")
}
