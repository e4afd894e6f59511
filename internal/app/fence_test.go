package app

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/ghaction"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext/runnertest"
)

// hostileCollection is pytest's output for a test module whose import
// error carries workflow commands after lone carriage returns.
const hostileCollection = "ERROR tests/test_x.py - ImportError: boom\r::warning::pwned\r::add-mask::hunter2\r::stop-commands::abc\n" +
	"!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!\n" +
	"1 error in 0.05s\n"

// runnerCommands reads output as a GitHub runner does (lines end at "\n"
// and at a lone "\r", leading white space is ignored) and returns the
// commands it would act on: those outside a stop-commands fence.
func runnerCommands(output string) []string {
	var cmds []string
	resume := ""
	for _, l := range runnertest.Lines(output) {
		l = strings.TrimSpace(l)
		if resume != "" {
			if l == "::"+resume+"::" {
				resume = ""
			}
			continue
		}
		if !strings.HasPrefix(l, "::") {
			continue
		}
		if tok, ok := strings.CutPrefix(l, "::stop-commands::"); ok {
			resume = tok
		}
		cmds = append(cmds, l)
	}
	return cmds
}

func collectionError(t *testing.T) error {
	t.Helper()
	_, err := discover.Parse(hostileCollection, 2)
	var ce *discover.CollectionError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, err.Error(), "\r::warning::pwned", "the parser keeps pytest's words")
	return fmt.Errorf("discovering tests: %w", err)
}

// TestCollectionErrorCLI: run prints pytest's output and then the error
// line unfenced, to a terminal that may be a runner's log.
func TestCollectionErrorCLI(t *testing.T) {
	err := collectionError(t)
	var stderr bytes.Buffer
	w := logtext.NewWriter(&stderr) // the pipeline's stderr in run mode
	fmt.Fprintf(w, "pytest --collect-only output:\n%s\n", hostileCollection)
	printError(&stderr, err)

	out := stderr.String()
	for _, l := range runnertest.Lines(out) {
		assert.False(t, strings.HasPrefix(strings.TrimSpace(l), "::"), "line %q is a workflow command", l)
	}
	assert.Empty(t, runnerCommands(out))
	assert.Contains(t, out, `\::warning::pwned`, "still readable")
	assert.Equal(t, 1, strings.Count(out, "k8s-testrun: discovering tests:"))
}

// TestCollectionErrorAction: the action prints pytest's output fenced, an
// annotation, and the error line on stderr; none of the payload's commands
// reaches the runner.
func TestCollectionErrorAction(t *testing.T) {
	err := collectionError(t)
	_, srv := newGitHubAPI(t, 0)
	vars, _, _ := actionVars(t, srv.URL, map[string]string{"token": ""})
	env, stdout, stderr := testEnv(vars)
	wf := ghaction.NewWorkflow(env.Stdout, env.Getenv)
	a := &action{env: env, wf: wf, log: logger(wf.Log(), false), set: ghaction.Settings{FailOn: ghaction.FailOnFailures}}
	fmt.Fprintf(fencedWriter{wf, "pytest output"}, "pytest --collect-only output:\n%s\n", hostileCollection)
	code := a.finish(context.Background(), nil, err, false)
	assert.Equal(t, ExitInfra, code)
	printError(env.Stderr, err)

	for _, out := range []string{stdout.String(), stderr.String()} {
		for _, c := range runnerCommands(out) {
			name, _, _ := strings.Cut(strings.TrimPrefix(c, "::"), "::")
			name, _, _ = strings.Cut(name, " ")
			assert.Contains(t, []string{"add-mask", "group", "endgroup", "stop-commands", "error", "warning"}, name, "command %q", c)
			switch name {
			case "add-mask":
				assert.NotContains(t, c, "hunter2")
			case "warning":
				assert.NotContains(t, c, "pwned")
			case "stop-commands":
				assert.NotEqual(t, "::stop-commands::abc", c)
			}
		}
	}
	assert.Contains(t, stdout.String(), "::error::k8s-testrun: discovering tests: ", "the problem is an annotation")
	for _, l := range runnertest.Lines(stderr.String()) {
		assert.False(t, strings.HasPrefix(strings.TrimSpace(l), "::"), "stderr line %q is a workflow command", l)
	}
}
