//go:build kindteardown

// Package kindteardown checks, after `go run ./hack/kind down`, that the
// kind cluster left nothing in the project's Docker engine or on the
// machine: no node, registry or build container, no kind network, no
// volume, no cgroup of a container that is gone, no kubeconfig or env file.
// It asks the engine and reads /sys/fs/cgroup itself, so a bug in down's
// own scan does not hide a leftover.
package kindteardown

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/hack/docker/engine"
)

func docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/docker", args...)
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = engine.New(nil, nil).Host()
	}
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "docker %v: %s", args, stderr.String())
	return strings.TrimSpace(string(out))
}

func kindDir() string {
	if d := os.Getenv("K8S_TESTRUN_KIND_DIR"); d != "" {
		return d
	}
	return "/var/lib/k8s-testrun/kind"
}

func TestNoContainerOfTheCluster(t *testing.T) {
	for _, filter := range []string{
		"label=io.x-k8s.kind.cluster",
		"label=io.x-k8s.kind.role",
		"name=kind-registry",
		"name=control-plane",
		"label=io.k8s-testrun.kind-build=1",
	} {
		assert.Empty(t, docker(t, "ps", "-a", "-q", "--filter", filter), "containers matching %s", filter)
	}
}

func TestNoKindNetwork(t *testing.T) {
	assert.Empty(t, docker(t, "network", "ls", "-q", "--filter", "name=^kind$"))
}

func TestNoVolume(t *testing.T) {
	// kind's node keeps /var on an anonymous volume; delete must remove it.
	assert.Empty(t, docker(t, "volume", "ls", "-q"))
}

func TestNoCgroupOfAGoneContainer(t *testing.T) {
	live := map[string]bool{}
	for _, id := range strings.Fields(docker(t, "ps", "-q", "--no-trunc")) {
		live[id] = true
	}
	checked := 0
	for _, ctrl := range []string{"memory", "cpu", "pids", "systemd"} {
		dirs, err := filepath.Glob(filepath.Join("/sys/fs/cgroup", ctrl, "docker", "*"))
		require.NoError(t, err)
		for _, d := range dirs {
			if st, err := os.Stat(d); err != nil || !st.IsDir() {
				continue
			}
			checked++
			assert.True(t, live[filepath.Base(d)], "cgroup %s is of no running container", d)
		}
	}
	t.Logf("checked %d cgroup directories", checked)
}

func TestNoFiles(t *testing.T) {
	for _, f := range []string{"kubeconfig", "env"} {
		_, err := os.Stat(filepath.Join(kindDir(), f))
		assert.True(t, os.IsNotExist(err), "%s is removed", f)
	}
}
