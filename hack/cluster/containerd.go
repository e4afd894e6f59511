package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/leftover"
)

// cniBinDir is where Debian's containernetworking-plugins install.
const cniBinDir = "/usr/lib/cni"

func (c *Cluster) containerdSocket() string { return c.path("containerd", "containerd.sock") }

// runcRoot keeps runc's container state below the cluster directory, so a
// tear-down after a crash can list this cluster's containers without
// mistaking another containerd's for them.
func (c *Cluster) runcRoot() string { return c.path("containerd", "runc") }

// KindRegistry is the name kind's nodes pull from its local registry by,
// kind-registry:5000; this cluster's containerd pulls it from its own.
const KindRegistry = "kind-registry:5000"

// containerdConfig renders containerd's configuration. Everything the
// daemon writes goes below the cluster directory; the system's containerd,
// if any, keeps its own socket, root and state.
func (c *Cluster) containerdConfig(s State) string {
	q := strconv.Quote
	reg := s.registry()
	lines := []string{
		"version = 2",
		"root = " + q(c.path("containerd", "root")),
		"state = " + q(c.path(leftover.ContainerdState)),
		`disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]`,
		"",
		"[grpc]",
		"  address = " + q(c.containerdSocket()),
		"",
		`[plugins."io.containerd.internal.v1.opt"]`,
		"  path = " + q(c.path("containerd", "opt")),
		"",
		`[plugins."io.containerd.grpc.v1.cri"]`,
		"  sandbox_image = " + q(s.PauseImage),
		// The machines lack CAP_SYS_RESOURCE: a sandbox asking for a
		// negative oom_score_adj makes runc fail with "can't get final
		// child's PID from pipe: EOF".
		"  restrict_oom_score_adj = true",
		`  stream_server_address = "127.0.0.1"`,
		`  stream_server_port = "0"`,
		"",
		`[plugins."io.containerd.grpc.v1.cri".containerd]`,
		`  snapshotter = "overlayfs"`,
		`  default_runtime_name = "runc"`,
		"",
		`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]`,
		`  runtime_type = "io.containerd.runc.v2"`,
		"",
		`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`,
		"  SystemdCgroup = false",
		"  Root = " + q(c.runcRoot()),
		"",
		`[plugins."io.containerd.grpc.v1.cri".cni]`,
		"  bin_dir = " + q(cniBinDir),
		"  conf_dir = " + q(c.path("cni", "net.d")),
		"  max_conf_num = 1",
		"",
		// The local registry speaks plain HTTP.
		fmt.Sprintf(`[plugins."io.containerd.grpc.v1.cri".registry.mirrors.%s]`, q(reg)),
		"  endpoint = [" + q("http://"+reg) + "]",
		"",
		// The name kind's nodes pull its local registry by, as
		// helm/kind-action advertises it in local-registry-hosting, is the
		// same registry here: the action's e2e (test/action) advertises it.
		fmt.Sprintf(`[plugins."io.containerd.grpc.v1.cri".registry.mirrors.%s]`, q(KindRegistry)),
		"  endpoint = [" + q("http://"+reg) + "]",
		"",
	}
	return strings.Join(lines, "\n")
}

// cniConfig is the pod network: one bridge with host-local addresses. No
// masquerading: pods talk to the machine and each other, nothing else, and
// no iptables rule is added that could outlive the cluster. containerd adds
// the loopback interface itself with the loopback plugin from cniBinDir.
func (c *Cluster) cniConfig() ([]byte, error) {
	fp := c.footprint()
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       fp.Network,
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      fp.Bridge,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": c.PodCIDR.String()}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": c.path("cni", "ipam"),
				},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding CNI config: %w", err)
	}
	return b, nil
}

func (c *Cluster) containerd(s State) (component, error) {
	cfg := c.path("containerd", "config.toml")
	if err := writeFileAtomic(cfg, []byte(c.containerdConfig(s)), 0o644); err != nil {
		return component{}, err
	}
	cni, err := c.cniConfig()
	if err != nil {
		return component{}, err
	}
	if err := writeFileAtomic(c.path("cni", "net.d", "10-k8s-testrun.conflist"), cni, 0o644); err != nil {
		return component{}, err
	}
	return component{
		name:  nameContainerd,
		bin:   "/usr/bin/containerd",
		args:  []string{"--config", cfg},
		grace: 15 * time.Second,
	}, nil
}

// dialUnix succeeds once something accepts connections on the socket.
func dialUnix(ctx context.Context, path string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	return conn.Close()
}

// socketReady is a readiness check for a daemon's unix socket.
func socketReady(path string) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := os.Stat(path); err != nil {
			return err
		}
		return dialUnix(ctx, path)
	}
}

// runcContainers lists the container ids runc keeps state for below the
// cluster's runc root, in every containerd namespace.
func (c *Cluster) runcContainers() (map[string][]string, error) {
	out := map[string][]string{}
	nss, err := os.ReadDir(c.runcRoot())
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing runc root: %w", err)
	}
	for _, ns := range nss {
		if !ns.IsDir() {
			continue
		}
		ids, err := os.ReadDir(filepath.Join(c.runcRoot(), ns.Name()))
		if err != nil {
			return nil, fmt.Errorf("listing runc root: %w", err)
		}
		for _, id := range ids {
			if id.IsDir() {
				out[ns.Name()] = append(out[ns.Name()], id.Name())
			}
		}
	}
	return out, nil
}
