package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// env is the environment of docker and kind: the engine's DOCKER_HOST,
// Debian's docker client first on PATH, and no KUBECONFIG of another
// cluster.
func (k *Kind) env() []string {
	env := []string{"DOCKER_HOST=" + k.DockerHost, "PATH=/usr/bin:/usr/sbin:/usr/local/bin:/bin:/sbin:" + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_HOST=") && !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	return env
}

// docker runs the docker client with stdin (may be nil) and returns its
// standard output; a failure carries its standard error.
func (k *Kind) docker(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/docker", args...)
	cmd.Env = k.env()
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", short(args), err, lastLines(stderr.String()+stdout.String(), 20))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// exec runs a command in a container.
func (k *Kind) exec(ctx context.Context, container string, args ...string) (string, error) {
	return k.docker(ctx, nil, append([]string{"exec", container}, args...)...)
}

// imageExists says whether the engine has an image of that reference.
func (k *Kind) imageExists(ctx context.Context, ref string) bool {
	_, err := k.docker(ctx, nil, "image", "inspect", "--format", "{{.Id}}", ref)
	return err == nil
}

// kindTool runs the pinned kind (`go tool kind`) from the repository.
func (k *Kind) kindTool(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "kind"}, args...)...)
	cmd.Dir = k.RepoDir
	cmd.Env = k.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("kind %s: %w\n%s", short(args), err, lastLines(out.String(), 40))
	}
	return out.String(), nil
}

func short(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
