package app

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func testEnv(vars map[string]string) (Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return Env{
		Stdout: &stdout, Stderr: &stderr,
		Getenv:     func(k string) string { return vars[k] },
		Environ:    func() []string { return []string{"PATH=" + os.Getenv("PATH")} },
		Executable: func() (string, error) { return testExecutable, nil },
	}, &stdout, &stderr
}

func TestUsageAndUnknownCommand(t *testing.T) {
	env, _, stderr := testEnv(nil)
	assert.Equal(t, ExitInfra, Run(context.Background(), nil, env))
	assert.Contains(t, stderr.String(), "Usage:\n  k8s-testrun [flags]\n  k8s-testrun [command]")

	env, _, stderr = testEnv(nil)
	assert.Equal(t, ExitInfra, Run(context.Background(), []string{"frobnicate"}, env))
	assert.Contains(t, stderr.String(), `unknown command "frobnicate"`)

	env, stdout, _ := testEnv(nil)
	assert.Equal(t, ExitOK, Run(context.Background(), []string{"version"}, env))
	assert.Contains(t, stdout.String(), "k8s-testrun")
}

func TestRunBadInputIsOneLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing project", []string{"run", "--repository", "localhost:5001/x", "/no/such/project"}, []string{`project directory "/no/such/project"`}},
		{"two problems on one line", []string{"run", "--pull-registry", "a/b", "--parallelism", "0", "/no/such/project"}, []string{"pull registry", "parallelism", "; "}},
		{"bad kubeconfig", []string{"run", "--repository", "localhost:5001/x", "--kubeconfig", "/no/such/kubeconfig", "."}, []string{`kubeconfig "/no/such/kubeconfig"`, "give a valid --kubeconfig"}},
		{"negative infra retries", []string{"run", "--repository", "localhost:5001/x", "--infra-retries", "-1", "."}, []string{`infra retries "-1"`, "0 or more"}},
		{"infra retries not a number", []string{"run", "--repository", "localhost:5001/x", "--infra-retries", "two", "."}, []string{"--infra-retries", `"two"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, stderr := testEnv(nil)
			assert.Equal(t, ExitInfra, Run(context.Background(), tt.args, env))
			out := strings.TrimSpace(stderr.String())
			assert.NotContains(t, out, "\n", "one line")
			assert.True(t, strings.HasPrefix(out, "k8s-testrun: "), out)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
		})
	}
}

func TestDiscoveryTimeout(t *testing.T) {
	assert.Equal(t, 10*time.Minute, discoveryTimeout(20*time.Second), "a short per-test timeout does not bound collection")
	assert.Equal(t, time.Hour, discoveryTimeout(time.Hour))
	assert.Zero(t, discoveryTimeout(0), "no timeout stays none")
}
