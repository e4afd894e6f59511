// Package app is the k8s-testrun command: a cobra command tree (run,
// action, gc, install, version, completion, and the operator's hidden role;
// the roles inside test pods are k8s-testrun-pod's, internal/podcmd) whose
// errors it prints once, as one line, and
// maps to exit codes. The process environment and IO streams are injected, so tests
// never touch the real ones.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
)

// Exit codes.
const (
	// ExitOK: every test passed or was skipped.
	ExitOK = 0
	// ExitTestsFailed: pytest reported a failure or an error.
	ExitTestsFailed = 1
	// ExitInfra: the run could not be carried out as asked (bad input, the
	// cluster or registry refused or was unreachable), or a test ended for
	// an infrastructure reason (timeout, OOM, unschedulable, image pull).
	ExitInfra = 2
)

// Env is what the process gives the command; only the main package fills
// it from the real process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Environ is the whole environment, handed to the test process.
	Environ func() []string
	// Executable is the path of the running binary.
	Executable func() (string, error)
	// StderrIsTerminal says Stderr is a terminal, where the run's progress
	// is a live status line rather than a line per test.
	StderrIsTerminal bool
}

// environ is the whole environment, or none when Environ is unset.
func (e Env) environ() []string {
	if e.Environ == nil {
		return nil
	}
	return e.Environ()
}

// Run executes the command in args (without the program name) and returns
// the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 && env.Getenv("GITHUB_ACTIONS") == "true" {
		// A container action's entrypoint runs with no arguments.
		args = []string{"action"}
	}
	return execute(ctx, args, env)
}

// printError prints the one line a failed command ends with.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "k8s-testrun:", oneLine(err))
}

// oneLine joins multi-line errors (errors.Join) into "; "-separated text, so
// every problem shows on the one line CI logs and annotations keep. Errors
// quote pytest and pip, so the line is defused: no "\r" or "\n" in it, and
// nothing a GitHub runner would take as a workflow command.
func oneLine(err error) string {
	return logtext.Line(err.Error())
}

func logger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
