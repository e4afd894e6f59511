// Command cluster brings a real single-node Kubernetes cluster up and down on
// a Debian machine without Docker, for the project's own end-to-end tests.
//
//	go run ./hack/cluster up     [--name NAME] [--dir DIR]
//	go run ./hack/cluster down   [--name NAME] [--dir DIR]
//	go run ./hack/cluster status [--name NAME] [--dir DIR]
//	go run ./hack/cluster restart-apiserver [--name NAME] [--dir DIR]
//	go run ./hack/cluster restart-containerd [--name NAME] [--dir DIR]
//
// It builds the Kubernetes binaries from the version pinned in hack/kube,
// runs etcd, the control plane, containerd and a kubelet as detached
// processes with all their state in one directory, serves an image registry
// on loopback and pushes the pause and Python base images to it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: cluster up|down|status|restart-apiserver|restart-containerd [--name NAME] [--dir DIR]

  up      start the cluster, or say it runs and reuse it
  down    stop everything the cluster started and verify nothing remains
  status  report each component and exit non-zero unless all are healthy
  restart-apiserver
          stop the running cluster's API server and start it again, for
          tests of what survives a control-plane restart
  restart-containerd
          stop the running cluster's containerd and start it again with
          the configuration written now
`

// run is the whole program: it parses args, runs a verb and returns the exit
// code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	verb, rest := args[0], args[1:]
	if verb == registryVerb {
		if err := serveRegistry(ctx, rest, log); err != nil {
			log.Error("registry failed", "err", err)
			return 1
		}
		return 0
	}

	fs := flag.NewFlagSet("cluster "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := defaultOptions()
	opts.bind(fs)
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n%s", fs.Args(), usage)
		return 2
	}

	var verbFunc func(*Cluster, context.Context) error
	switch verb {
	case "up":
		verbFunc = (*Cluster).Up
	case "down":
		verbFunc = (*Cluster).Down
	case "status":
		verbFunc = (*Cluster).Status
	case "restart-apiserver":
		verbFunc = (*Cluster).RestartAPIServer
	case "restart-containerd":
		verbFunc = (*Cluster).RestartContainerd
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown verb %q\n%s", verb, usage)
		return 2
	}

	c, err := newCluster(opts, log, stdout)
	if err != nil {
		log.Error("invalid options", "err", err)
		return 2
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		log.Error("locking cluster directory", "err", err)
		return 1
	}
	defer unlock()
	if err := verbFunc(c, ctx); err != nil {
		var nh *notHealthyError
		if errors.As(err, &nh) {
			fmt.Fprintln(stdout, nh.Error())
			return 1
		}
		log.Error(verb+" failed", "err", err)
		return 1
	}
	return 0
}
