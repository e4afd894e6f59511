package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testExecutable is the CLI's path in testEnv, a stand-in in a directory
// that holds a k8s-testrun-pod, as `make build` leaves it.
var testExecutable string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "k8s-testrun-app-test-")
	for _, name := range []string{"k8s-testrun", "k8s-testrun-pod"} {
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), []byte("not a binary"), 0o755)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testExecutable = filepath.Join(dir, "k8s-testrun")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestPodBinary(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "k8s-testrun")
	env, _, _ := testEnv(map[string]string{})
	env.Executable = func() (string, error) { return self, nil }

	_, err := podBinary("", env)
	require.Error(t, err, "nothing beside the executable")
	assert.Equal(t, "no pod binary at "+filepath.Join(dir, "k8s-testrun-pod")+
		" (k8s-testrun-pod is looked for beside k8s-testrun): run `make build`, which builds both, or give --binary or $K8S_TESTRUN_POD_BINARY", err.Error())

	require.NoError(t, os.WriteFile(filepath.Join(dir, "k8s-testrun-pod"), []byte("x"), 0o755))
	got, err := podBinary("", env)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "k8s-testrun-pod"), got, "beside the executable")

	got, err = podBinary("/given", env)
	require.NoError(t, err)
	assert.Equal(t, "/given", got, "--binary wins")

	env.Getenv = func(k string) string { return map[string]string{PodBinaryEnv: "/from/env"}[k] }
	got, err = podBinary("", env)
	require.NoError(t, err)
	assert.Equal(t, "/from/env", got, "then the environment")
}

// TestRunWithoutPodBinary: a CLI without its pod binary stops before any
// work with one line that names where it looked and the fix, exit 2.
func TestRunWithoutPodBinary(t *testing.T) {
	dir := t.TempDir()
	env, _, stderr := testEnv(nil)
	env.Executable = func() (string, error) { return filepath.Join(dir, "k8s-testrun"), nil }
	code := Run(context.Background(), []string{"run", "--repository", "r.example/x", t.TempDir()}, env)
	assert.Equal(t, ExitInfra, code)
	assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
	assert.Contains(t, stderr.String(), "k8s-testrun: no pod binary at "+filepath.Join(dir, "k8s-testrun-pod"))
	assert.Contains(t, stderr.String(), "make build")
}
