package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCoverageRunsNothingOnTheHost: with --coverage, no Python of this
// machine and no file of the project runs here: not a python3 on PATH, not
// a coverage.py or pip.py at the project's root. The run gets as far as
// its preflight (the cluster is unreachable) without asking for
// coverage.py on this machine.
func TestCoverageRunsNothingOnTheHost(t *testing.T) {
	bin, marker := t.TempDir(), filepath.Join(t.TempDir(), "ran")
	for _, name := range []string{"python3", "python", "python3-coverage", "coverage"} {
		script := "#!/bin/sh\necho \"$0 $*\" >> '" + marker + "'\necho 'Coverage.py, version 7.6.1 with C extension'\n"
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755))
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	project := t.TempDir()
	impostor := "open(" + `'` + marker + `'` + ", 'a').write('project file ran\\n')\n"
	for _, name := range []string{"coverage.py", "pip.py", "conftest.py"} {
		require.NoError(t, os.WriteFile(filepath.Join(project, name), []byte(impostor), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(project, "test_a.py"), []byte("def test_a():\n    pass\n"), 0o644))
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: "kube-token-123456"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600))

	env, _, stderr := testEnv(nil)
	code := Run(context.Background(), []string{"run", "--coverage", "--repository", "localhost:5001/x", "--kubeconfig", kubeconfig, project}, env)
	assert.Equal(t, ExitInfra, code)
	out := strings.TrimSpace(stderr.String())
	assert.Contains(t, out, "127.0.0.1:1", "the run reached its preflight")
	assert.NotContains(t, out, "coverage.py is not installed")
	ran, _ := os.ReadFile(marker)
	assert.Empty(t, string(ran), "nothing ran on this machine")
}
