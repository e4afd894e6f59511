// Package app is the k8s-testrun command: it dispatches the subcommands
// (run, gc, and the in-pod roles shim and sidecar) and maps their errors to
// exit codes. The process environment and IO streams are injected, so tests
// never touch the real ones.
package app

import (
	"context"
	"errors"
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
}

// environ is the whole environment, or none when Environ is unset.
func (e Env) environ() []string {
	if e.Environ == nil {
		return nil
	}
	return e.Environ()
}

const usage = `usage: k8s-testrun COMMAND [flags]

Commands:
  run      build the test image and run every pytest test in its own pod
  action   the same as a GitHub Action step: inputs from INPUT_*, results as a
           check run, job summary and outputs (the default when GITHUB_ACTIONS=true)
  gc       delete the pods of runs older than an age
  install  install the operator (CRDs, RBAC, Deployment) for run --mode operator
  operator reconcile TestRun and TestCase resources (the operator's Deployment runs it)
  version  print the version

In-pod roles (set by the pods k8s-testrun creates):
  shim     run pytest as a child, forward signals, record its exit code
  sidecar  wait for the test to finish and ship its results through the log
`

// Version is set at build time.
var Version = "dev"

// Run executes the command in args (without the program name) and returns
// the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 && env.Getenv("GITHUB_ACTIONS") == "true" {
		// A container action's entrypoint runs with no arguments.
		args = []string{"action"}
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitInfra
	}
	var err error
	code := ExitOK
	switch args[0] {
	case "run":
		code, err = runCommand(ctx, args[1:], env)
	case "action":
		code, err = actionCommand(ctx, args[1:], env)
	case "gc":
		err = gcCommand(ctx, args[1:], env)
	case "install":
		err = installCommand(ctx, args[1:], env)
	case "operator":
		err = operatorCommand(ctx, args[1:], env)
	case "shim":
		code, err = shimCommand(ctx, args[1:], env)
	case "sidecar":
		err = sidecarCommand(ctx, args[1:], env)
	case "version":
		fmt.Fprintln(env.Stdout, "k8s-testrun", Version)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
	default:
		fmt.Fprintf(env.Stderr, "k8s-testrun: unknown command %q\n\n%s", args[0], usage)
		return ExitInfra
	}
	if err != nil {
		if errors.Is(err, errHelp) {
			return ExitOK
		}
		printError(env.Stderr, err)
		if code == ExitOK {
			code = ExitInfra
		}
	}
	return code
}

var errHelp = errors.New("help requested")

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
