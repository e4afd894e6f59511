package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/ghaction"
	"github.com/k8s-testrun/k8s-testrun/internal/github"
)

// TestActionMalformedInputsFailTheStep: with fail_on: never, a malformed
// pod_template or kubeconfig still fails the step with exit 2, names the
// input as action.yml does, and creates no check run.
func TestActionMalformedInputsFailTheStep(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]string
		want   string
		secret string // must be masked before anything prints it
	}{
		{name: "pod_template", inputs: map[string]string{"pod_template": "spec:\n  containers: {oops"},
			want: "::error::k8s-testrun: input pod_template: is not a pod template: "},
		{name: "pod_template unknown field", inputs: map[string]string{"pod_template": "spec:\n  nodeSelektor: {a: b}"},
			want: "::error::k8s-testrun: input pod_template: is not a pod template: "},
		{name: "kubeconfig", inputs: map[string]string{"kubeconfig": "users: [{name: u, user: {token: tok-abcdef123456}}"},
			want: "::error::k8s-testrun: input kubeconfig: is not a kubeconfig: ", secret: "tok-abcdef123456"},
		{name: "kubeconfig with no cluster", inputs: map[string]string{"kubeconfig": "apiVersion: v1\nkind: Config\n"},
			want: "::error::k8s-testrun: input kubeconfig: cannot be used: it configures no cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, srv := newGitHubAPI(t, 0)
			inputs := map[string]string{"fail_on": "never"}
			for k, v := range tt.inputs {
				inputs[k] = v
			}
			vars, _, _ := actionVars(t, srv.URL, inputs)
			env, stdout, stderr := testEnv(vars)
			code := Run(context.Background(), nil, env)
			assert.Equal(t, ExitInfra, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			log := stdout.String()
			assert.Contains(t, log, tt.want)
			assert.NotContains(t, log+stderr.String(), "--kubeconfig")
			assert.NotContains(t, log+stderr.String(), "--pod-template")
			assert.Empty(t, api.paths, "nothing was tested, so no check run")
			if tt.secret != "" {
				assert.Contains(t, log, "::add-mask::"+tt.secret+"\n", "the token is masked on its own")
				first := log[:strings.Index(log, tt.secret)]
				assert.True(t, strings.HasPrefix(first[strings.LastIndex(first, "\n")+1:], "::add-mask::"),
					"the first line that holds the token masks it:\n%s", log)
			}
		})
	}
}

func TestVerdictRequirementsError(t *testing.T) {
	err := fmt.Errorf("building the test image: %w", &build.RequirementsError{File: "requirements.txt", Line: 2, Text: "--no-binary", Why: "x"})
	conclusion, code := verdict(nil, err, false, ghaction.FailOnNever)
	assert.Equal(t, github.ConclusionFailure, conclusion)
	assert.Equal(t, ExitInfra, code)
	assert.True(t, errors.As(err, new(*build.RequirementsError)))
}
