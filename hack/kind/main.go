// Command kind builds a kind node image from sources on a machine that can
// pull no image, and runs a kind cluster from it with kind's local registry
// recipe, in the project's own Docker engine (hack/docker).
//
//	go run ./hack/kind images [flags]   build the base, node and registry images
//	go run ./hack/kind up     [flags]   images, then kind create cluster and the registry
//	go run ./hack/kind down   [flags]   delete the cluster, the registry and the network
//	go run ./hack/kind status [flags]   say whether the cluster answers
//
// Every image is cached by a digest of its inputs: a second `up` builds
// nothing. kind itself is the module's pinned Go tool (`go tool kind`).
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: kind images|up|down|status [flags]

  images   build the kind base image (debootstrap), the node image (the
           Kubernetes binaries and images) and the registry image, cached
  up       images, then kind create cluster and the local registry as kind's
           local-registry recipe makes it; writes DIR/env and DIR/kubeconfig
  down     delete the cluster, the registry container and the kind network,
           and check that none of them remains
  status   say whether the cluster's API server answers
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	verb, rest := args[0], args[1:]
	if verb == "-h" || verb == "--help" || verb == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	k := newKind(log, stdout)
	fs := flag.NewFlagSet("kind "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&k.Name, "name", k.Name, "kind cluster name; the node is NAME-control-plane")
	fs.StringVar(&k.Dir, "dir", k.Dir, "directory for the cluster's kubeconfig and env file")
	fs.StringVar(&k.CacheDir, "cache", k.CacheDir, "cache of built binaries and root filesystems")
	fs.StringVar(&k.RepoDir, "repo", k.RepoDir, "the k8s-testrun checkout (for hack/kube and go tool kind)")
	fs.IntVar(&k.RegistryPort, "registry-port", k.RegistryPort, "host port of the local registry (127.0.0.1)")
	fs.StringVar(&k.DockerHost, "docker-host", k.DockerHost, "DOCKER_HOST of the engine (hack/docker)")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n%s", fs.Args(), usage)
		return 2
	}
	var err error
	switch verb {
	case "images":
		_, _, err = k.Images(ctx)
	case "up":
		err = k.Up(ctx)
	case "down":
		err = k.Down(ctx)
	case "status":
		err = k.Status(ctx)
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

// Kind is one kind cluster with its images and registry.
type Kind struct {
	Name         string
	Dir          string
	CacheDir     string
	RepoDir      string
	RegistryPort int
	DockerHost   string
	log          *slog.Logger
	out          io.Writer
}

func newKind(log *slog.Logger, out io.Writer) *Kind {
	home, _ := os.UserHomeDir()
	wd, _ := os.Getwd()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = engine.New(log, out).Host()
	}
	return &Kind{
		Name:         "kind",
		Dir:          "/var/lib/k8s-testrun/kind",
		CacheDir:     filepath.Join(home, ".cache", "k8s-testrun"),
		RepoDir:      wd,
		RegistryPort: 5002,
		DockerHost:   host,
		log:          log,
		out:          out,
	}
}

// Node is the name of the cluster's only node container.
func (k *Kind) Node() string { return k.Name + "-control-plane" }

// Kubeconfig is where up writes the cluster's kubeconfig.
func (k *Kind) Kubeconfig() string { return filepath.Join(k.Dir, "kubeconfig") }

// EnvFile is where up writes KUBECONFIG and the registry for the tests.
func (k *Kind) EnvFile() string { return filepath.Join(k.Dir, "env") }
