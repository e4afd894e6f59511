package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/klog/v2"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/ghaction"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext/runnertest"
)

// marker is in every hostile payload, so that a command carrying one is
// easy to tell from the action's own.
const marker = "PWNED"

// hostileLogs log what a hostile project can put in k8s-testrun's log
// lines, each as the code that logs it does: a test ID (runner.go, with
// -v), a coverage data file's name (runner.go, SaveCoverage's error), pip's
// output (build/deps.go, with -v), and a message and attribute of any
// other line.
var hostileLogs = []struct {
	name string
	log  func(*slog.Logger)
}{
	{"test id", func(l *slog.Logger) {
		l.Debug("creating pod", "pod", "ktr-1", "tests", 1, "first", "tests/t.py::test[##[warning]"+marker+"]", "attempt", 1)
	}},
	{"coverage file name", func(l *slog.Logger) {
		l.Warn("keeping the coverage data", "pod", "ktr-1", "error", errors.New("bad name .coverage.##[warning title=x]"+marker))
	}},
	{"pip output", func(l *slog.Logger) {
		l.Debug("pip finished", "output", "Collecting six\n::warning::"+marker+"\n##[error]"+marker+"\n")
	}},
	{"message", func(l *slog.Logger) {
		l.Warn("##[add-mask]" + marker)
	}},
}

// assertNoUntrustedCommand fails when a line of output has a command's
// syntax and is not one of the action's own commands, or when a command
// the runner would act on carries the marker where no untrusted text
// belongs.
func assertNoUntrustedCommand(t *testing.T, output string) {
	t.Helper()
	for _, l := range runnertest.Lines(output) {
		if !runnertest.LooksLikeCommand(l) {
			continue
		}
		assert.True(t, strings.HasPrefix(l, "::"), "line %q has a command's syntax", l)
		assert.NotContains(t, l, "##[", "line %q carries a legacy command", l)
	}
	for _, c := range runnertest.Commands(output) {
		assert.False(t, c.Legacy, "legacy command %q", c.Line)
		switch strings.ToLower(c.Name) {
		case "group", "endgroup", "error", "warning", "notice":
			// Titles and annotations name tests; go-githubactions escapes
			// them and the workflow breaks their "##[".
		default:
			assert.NotContains(t, c.Line, marker, "command %q", c.Line)
		}
	}
}

// TestLogLinesIssueNoCommand: in the CLI and in the action, with -v and
// without, a hostile value in a log line issues no command.
func TestLogLinesIssueNoCommand(t *testing.T) {
	for _, tt := range hostileLogs {
		for _, verbose := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s verbose=%v cli", tt.name, verbose), func(t *testing.T) {
				env, stdout, stderr := testEnv(nil)
				env, flush := guardStreams(env)
				out := newRunOutput(config.Config{Verbose: verbose}, env)
				tt.log(out.log)
				flush()
				assertNoUntrustedCommand(t, stdout.String()+stderr.String())
				assert.Empty(t, runnertest.Commands(stdout.String()+stderr.String()))
			})
			t.Run(fmt.Sprintf("%s verbose=%v action", tt.name, verbose), func(t *testing.T) {
				env, stdout, stderr := testEnv(nil)
				env, flush := guardStreams(env)
				wf := ghaction.NewWorkflow(env.Stdout, env.Getenv)
				wf.Group("Building the test image")
				tt.log(logger(wf.Log(), verbose))
				wf.EndGroup()
				flush()
				assertNoUntrustedCommand(t, stdout.String()+stderr.String())
				if verbose || tt.name == "coverage file name" || tt.name == "message" {
					assert.Contains(t, stdout.String(), marker, "the line is logged")
				}
			})
		}
	}
}

// TestActionRunIssuesNoUntrustedCommand runs the action end to end (its
// cluster unreachable): what the GitHub API and the inputs give it reaches
// its log lines, and issues no command.
func TestActionRunIssuesNoUntrustedCommand(t *testing.T) {
	for _, verbose := range []string{"false", "true"} {
		t.Run("verbose="+verbose, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				b, _ := json.Marshal(map[string]any{"id": 5, "name": "tests ##[warning]" + marker, "html_url": "https://github.example/o/r/runs/5##[error]" + marker})
				_, _ = w.Write(b)
			}))
			t.Cleanup(srv.Close)
			vars, _, _ := actionVars(t, srv.URL, map[string]string{"verbose": verbose, "check_name": "tests ##[warning]" + marker})
			env, stdout, stderr := testEnv(vars)
			Run(context.Background(), nil, env)
			require.Contains(t, stdout.String(), "created check run", "the API's values reach a log line")
			assertNoUntrustedCommand(t, stdout.String())
			assertNoUntrustedCommand(t, stderr.String())
		})
	}
}

// TestCLIOutputIssuesNoCommand: what a CLI command prints on stdout goes
// through the same writer.
func TestCLIOutputIssuesNoCommand(t *testing.T) {
	env, stdout, stderr := testEnv(nil)
	code := Run(context.Background(), []string{"install", "--print", "--image", "reg.example/img:x##[warning]" + marker}, env)
	require.Equal(t, ExitOK, code, stderr.String())
	require.Contains(t, stdout.String(), marker)
	assertNoUntrustedCommand(t, stdout.String())
	assert.Empty(t, runnertest.Commands(stdout.String()))
}

// TestGuardedOnce: streams already guarded are not guarded again. (The
// roles in a pod, whose output must pass unchanged, are k8s-testrun-pod's:
// internal/podcmd tests them.)
func TestGuardedOnce(t *testing.T) {
	var buf bytes.Buffer
	env, _ := guardStreams(Env{Stdout: &buf, Stderr: &buf})
	again, _ := guardStreams(env)
	assert.Same(t, env.Stdout, again.Stdout, "guarded once")
}

// TestKlogGoesThroughTheWriter: what client-go logs through klog (an API
// server's warning, say) reaches the log through the same writer.
func TestKlogGoesThroughTheWriter(t *testing.T) {
	env, _, stderr := testEnv(nil)
	env, flush := guardStreams(env)
	restore := routeKlog(env.Stderr)
	klog.Warningf("the server says ##[warning]%s", marker)
	klog.ErrorS(errors.New("watch of ##[error]"+marker), "reflector")
	klog.V(1).Info("hidden at the default verbosity")
	restore()
	flush()
	require.Contains(t, stderr.String(), marker)
	assert.NotContains(t, stderr.String(), "hidden")
	assertNoUntrustedCommand(t, stderr.String())
	assert.Empty(t, runnertest.Commands(stderr.String()))
}
