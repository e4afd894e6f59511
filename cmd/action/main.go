// Command k8s-testrun runs a pytest suite on Kubernetes, one pod per test
// case. It is both a CLI and the entrypoint of the GitHub Action, and the
// operator's in the cluster; inside test pods, k8s-testrun-pod
// (cmd/k8s-testrun-pod) plays the shim and the collector sidecar.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/k8s-testrun/k8s-testrun/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Run(ctx, os.Args[1:], app.Env{
		Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Environ: os.Environ, Executable: os.Executable,
		StderrIsTerminal: term.IsTerminal(int(os.Stderr.Fd())),
	})
	stop()
	os.Exit(code)
}
