package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContainerdConfig(t *testing.T) {
	c := &Cluster{Name: "ktr", Dir: "/var/lib/k8s-testrun/cluster/ktr", PodCIDR: netip.MustParsePrefix("10.88.0.0/16")}
	s := State{Ports: Ports{Registry: 5001}, PauseImage: "127.0.0.1:5001/k8s-testrun/pause:3.10"}
	cfg := c.containerdConfig(s)
	for _, want := range []string{
		`restrict_oom_score_adj = true`,
		`sandbox_image = "127.0.0.1:5001/k8s-testrun/pause:3.10"`,
		`[plugins."io.containerd.grpc.v1.cri".registry.mirrors."127.0.0.1:5001"]`,
		`endpoint = ["http://127.0.0.1:5001"]`,
		`bin_dir = "/usr/lib/cni"`,
		`address = "/var/lib/k8s-testrun/cluster/ktr/containerd/containerd.sock"`,
		`state = "/var/lib/k8s-testrun/cluster/ktr/containerd/state"`,
		`Root = "/var/lib/k8s-testrun/cluster/ktr/containerd/runc"`,
	} {
		assert.Contains(t, cfg, want)
	}
	// Nothing containerd writes may land outside the cluster directory.
	for _, line := range strings.Split(cfg, "\n") {
		if strings.Contains(line, `= "/`) && !strings.Contains(line, "bin_dir") {
			assert.Contains(t, line, c.Dir, line)
		}
	}
}

func TestKubeletConfigKeepsFootprint(t *testing.T) {
	c := &Cluster{Name: "ktr", Dir: "/d", PodCIDR: netip.MustParsePrefix("10.88.0.0/16")}
	cfg := c.kubeletConfig(State{Ports: Ports{Kubelet: 10250, KubeletHealthz: 10248}})
	assert.Equal(t, "/k8s-testrun-ktr", cfg["cgroupRoot"])
	assert.Equal(t, false, cfg["failCgroupV1"])
	assert.Equal(t, false, cfg["makeIPTablesUtilChains"], "iptables chains would outlive the cluster")
	assert.Equal(t, []string{}, cfg["enforceNodeAllocatable"])
	assert.Equal(t, "127.0.0.1", cfg["address"])
}

func TestShellQuote(t *testing.T) {
	assert.Equal(t, "127.0.0.1:5001/k8s-testrun/python:3-bookworm@sha256:ab", shellQuote("127.0.0.1:5001/k8s-testrun/python:3-bookworm@sha256:ab"))
	assert.Equal(t, `'a b'`, shellQuote("a b"))
	assert.Equal(t, `'it'\''s'`, shellQuote("it's"))
	assert.Equal(t, `''`, shellQuote(""))
}

func TestMajorMinor(t *testing.T) {
	major, minor, ok := majorMinor("v1.35.4")
	require.True(t, ok)
	assert.Equal(t, "1", major)
	assert.Equal(t, "35", minor)
	_, _, ok = majorMinor("1.35")
	assert.False(t, ok)
}
