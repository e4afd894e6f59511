// Command k8s-testrun-pod is the binary the test image carries: the shim,
// the discovery pod's collection, the coverage pod's combine and the
// results collector. It links nothing that talks to the API server, a
// registry or GitHub, so every node pulls a few megabytes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/k8s-testrun/k8s-testrun/internal/podcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := podcmd.Run(ctx, os.Args[1:], podcmd.Env{Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ})
	stop()
	os.Exit(code)
}
