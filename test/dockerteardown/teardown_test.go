//go:build dockerteardown

// Package dockerteardown checks, after `go run ./hack/docker down`, that the
// project's Docker engine left nothing on the machine: no process, mount,
// bridge, veth, iptables rule or chain, socket or runtime directory. Besides
// the engine's own scan it reads /proc, the mount table, the link list and
// iptables-save directly, so a bug in the scan does not hide a leftover.
package dockerteardown

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/leftover"
	"github.com/k8s-testrun/k8s-testrun/hack/docker/engine"
)

func newEngine() *engine.Engine {
	e := engine.New(nil, nil)
	if d := os.Getenv("K8S_TESTRUN_DOCKER_DIR"); d != "" {
		e.Dir = d
	}
	return e
}

func TestScanFindsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	left, err := newEngine().Leftovers(ctx)
	require.NoError(t, err)
	assert.Empty(t, left)
}

func TestNoProcessOfTheEngine(t *testing.T) {
	e := newEngine()
	// This test and the make and shell that run it name the engine's
	// directory on their command lines; they are not the engine's.
	self := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !self[pid]; {
		self[pid] = true
		st, err := leftover.ReadStat(pid)
		require.NoError(t, err)
		pid = st.PPID
	}
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	checked := 0
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || self[pid] {
			continue
		}
		st, err := leftover.ReadStat(pid)
		if err != nil || !st.Alive() {
			continue
		}
		checked++
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cmd := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		assert.NotContains(t, cmd, e.Socket, "pid %d: %s", pid, cmd)
		assert.NotContains(t, cmd, e.Dir+"/", "pid %d: %s", pid, cmd)
		assert.NotContains(t, cmd, e.DataRoot+"/", "pid %d: %s", pid, cmd)
		assert.False(t, strings.HasPrefix(cmd, "/usr/sbin/dockerd") || strings.HasPrefix(cmd, "dockerd "), "pid %d is a dockerd: %s", pid, cmd)
	}
	assert.Positive(t, checked, "no process was checked: /proc unreadable?")
}

func TestNoMountOfTheEngine(t *testing.T) {
	e := newEngine()
	table, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	require.NotEmpty(t, table)
	for _, line := range strings.Split(string(table), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		for _, d := range []string{e.Dir, e.DataRoot} {
			assert.False(t, mp == d || strings.HasPrefix(mp, d+"/"), "still mounted: %s", line)
		}
		assert.NotContains(t, line, "overlay2", "an overlay2 mount remains: %s", line)
	}
}

func TestNoLinkOfTheEngine(t *testing.T) {
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "lo:", "ip link shows no loopback; output unusable")
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fields[1], ":"), "@")
		assert.NotEqual(t, engine.Bridge, name, "the default bridge still exists: %s", line)
		assert.NotEqual(t, "docker0", name, "docker0 exists: %s", line)
		assert.False(t, strings.HasPrefix(name, "br-"), "a network bridge still exists: %s", line)
		assert.NotContains(t, line, "master br-", "a port of a network bridge still exists: %s", line)
		assert.NotContains(t, line, "master "+engine.Bridge+" ", "a port of the default bridge still exists: %s", line)
	}
}

func TestNoIPTablesRuleOfTheEngine(t *testing.T) {
	if _, err := exec.LookPath("iptables-save"); err != nil {
		t.Skip("no iptables-save on this machine, so nothing can have added a rule")
	}
	out, err := exec.Command("iptables-save").Output()
	require.NoError(t, err)
	for _, line := range strings.Split(string(out), "\n") {
		assert.NotContains(t, line, "DOCKER", "iptables: %s", line)
		assert.NotContains(t, line, engine.Bridge, "iptables: %s", line)
		assert.NotContains(t, line, " br-", "iptables: %s", line)
		assert.NotContains(t, line, "172.30.", "iptables (the engine's address pool): %s", line)
		assert.NotContains(t, line, "172.31.254.", "iptables (the default bridge's subnet): %s", line)
	}
}

func TestNoSocketOrRuntimeDir(t *testing.T) {
	e := newEngine()
	for _, p := range []string{e.Socket, e.Dir, "/var/run/docker.sock"} {
		_, err := os.Lstat(p)
		assert.True(t, os.IsNotExist(err), "%s still exists (%v)", p, err)
	}
}
