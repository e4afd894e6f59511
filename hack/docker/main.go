// Command docker runs a Docker engine of the project's own on a Debian
// machine without systemd, for the tests that run the action the way
// GitHub's runner does (test/action).
//
//	go run ./hack/docker up     [--dir DIR] [--socket PATH]
//	go run ./hack/docker down   [--dir DIR] [--socket PATH]
//	go run ./hack/docker status [--dir DIR] [--socket PATH]
//	docker forward LISTEN TARGET   (inside a helper container: a TCP relay)
//
// up installs Debian's docker.io when it is missing and starts dockerd on
// its own socket, exec root and pidfile, with a default bridge of its own
// name and networks from an address pool of its own, so that everything it
// adds can be told apart from the machine's and removed by down. The data
// root (images, build cache) is kept between runs, as a cache.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/k8s-testrun/k8s-testrun/hack/docker/engine"
)

func main() {
	// dockerd runs this program, copied by up, as its default runtime.
	if filepath.Base(os.Args[0]) == engine.RuntimeName {
		if err := engine.RunRuntimeWrapper(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, engine.RuntimeName+":", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: docker up|down|status [--dir DIR] [--socket PATH]
       docker forward LISTEN_ADDR TARGET_ADDR

  up       install docker.io if missing, start dockerd, or reuse the running one
  down     remove every container and network, stop dockerd and remove the
           bridge, iptables rules, mounts and runtime state it left
  status   say whether dockerd answers; non-zero unless it does
  forward  relay TCP connections from LISTEN_ADDR to TARGET_ADDR (the
           entrypoint of the helper image the action tests run)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	verb, rest := args[0], args[1:]
	if verb == "forward" {
		if len(rest) != 2 {
			fmt.Fprintf(stderr, "forward needs LISTEN_ADDR and TARGET_ADDR, e.g. forward :5000 172.30.0.1:5001\n")
			return 2
		}
		if err := forward(ctx, rest[0], rest[1], log); err != nil {
			log.Error("forward failed", "err", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet("docker "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	e := engine.New(log, stdout)
	fs.StringVar(&e.Dir, "dir", e.Dir, "directory of the engine's runtime state, pidfile and log")
	fs.StringVar(&e.Socket, "socket", e.Socket, "unix socket dockerd listens on")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n%s", fs.Args(), usage)
		return 2
	}
	var err error
	switch verb {
	case "up":
		err = e.Up(ctx)
	case "down":
		err = e.Down(ctx)
	case "status":
		err = e.Status(ctx)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown verb %q\n%s", verb, usage)
		return 2
	}
	if err != nil {
		log.Error(verb+" failed", "err", err)
		return 1
	}
	return 0
}
