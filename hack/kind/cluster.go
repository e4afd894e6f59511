package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// clusterConfig is the kind cluster (withAudit adds the README's audit
// settings): one control-plane node of the node
// image; no kindnetd (the node carries a bridge conflist); containerd
// reading registry hosts from certs.d, as kind's local-registry recipe
// sets it; and the kubelet allowed to run on cgroup v1, which kubelet 1.35
// refuses by default and this machine has. containerd restricts the
// containers' oom_score_adj to its own: the pause sandbox asks for -998,
// and a negative value needs CAP_SYS_RESOURCE, which root lacks here (runc
// then fails with "can't get final child's PID from pipe: EOF").
const clusterConfig = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
nodes:
- role: control-plane
  image: %s
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
- |-
  [plugins."io.containerd.grpc.v1.cri"]
    restrict_oom_score_adj = true
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  apiVersion: kubelet.config.k8s.io/v1beta1
  failCgroupV1: false
`

// registryHostsToml points the nodes' containerd at the registry
// container on the kind network, for images named localhost:PORT/...
const registryHostsToml = `[host."http://%s:5000"]
`

// hostingConfigMap is KEP-1755's ConfigMap, as kind's recipe applies it.
const hostingConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:%d"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
`

// Up builds the images, then runs kind's local-registry recipe: the
// registry container, kind create cluster, the nodes' hosts.toml, the
// registry joined to the kind network, the ConfigMap.
func (k *Kind) Up(ctx context.Context) error {
	start := time.Now()
	node, regImage, err := k.Images(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(k.Dir, 0o755); err != nil {
		return err
	}
	if running, _ := k.docker(ctx, nil, "inspect", "-f", "{{.State.Running}}", RegistryName); running != "true" {
		_, _ = k.docker(ctx, nil, "rm", "-f", RegistryName)
		if _, err := k.docker(ctx, nil, "run", "-d", "--restart=always",
			"-p", fmt.Sprintf("127.0.0.1:%d:5000", k.RegistryPort),
			"--network", "bridge", "--name", RegistryName, regImage); err != nil {
			return err
		}
	}
	if out, _ := k.kindTool(ctx, "get", "clusters"); !hasLine(out, k.Name) {
		cfg := filepath.Join(k.Dir, "kind-config.yaml")
		policy := filepath.Join(k.Dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, auditPolicy, 0o644); err != nil {
			return err
		}
		data, err := withAudit(fmt.Appendf(nil, clusterConfig, node), policy)
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg, data, 0o644); err != nil {
			return err
		}
		k.log.Info("kind create cluster", "name", k.Name, "image", node)
		t := time.Now()
		if _, err := k.kindTool(ctx, "create", "cluster", "--name", k.Name, "--config", cfg,
			"--kubeconfig", k.Kubeconfig(), "--retain", "--wait", "0s"); err != nil {
			logs := k.nodeDiagnostics(ctx)
			return fmt.Errorf("%w\n--- node diagnostics ---\n%s", err, logs)
		}
		k.log.Info("kind cluster created", "took", time.Since(t).Round(time.Second))
	}
	nodes, err := k.kindTool(ctx, "get", "nodes", "--name", k.Name)
	if err != nil {
		return err
	}
	dir := fmt.Sprintf("/etc/containerd/certs.d/localhost:%d", k.RegistryPort)
	for _, n := range strings.Fields(nodes) {
		if _, err := k.exec(ctx, n, "mkdir", "-p", dir); err != nil {
			return err
		}
		if err := k.writeFile(ctx, n, dir+"/hosts.toml", fmt.Sprintf(registryHostsToml, RegistryName)); err != nil {
			return err
		}
	}
	nets, err := k.docker(ctx, nil, "inspect", "-f", "{{json .NetworkSettings.Networks}}", RegistryName)
	if err != nil {
		return err
	}
	if !strings.Contains(nets, `"kind"`) {
		if _, err := k.docker(ctx, nil, "network", "connect", "kind", RegistryName); err != nil {
			return err
		}
	}
	if _, err := k.kubectl(ctx, strings.NewReader(fmt.Sprintf(hostingConfigMap, k.RegistryPort)), "apply", "-f", "-"); err != nil {
		return err
	}
	if _, err := k.kubectl(ctx, nil, "wait", "--for=condition=Ready", "node/"+k.Node(), "--timeout=180s"); err != nil {
		return fmt.Errorf("%w\n--- node diagnostics ---\n%s", err, k.nodeDiagnostics(ctx))
	}
	if err := k.waitDefaultServiceAccount(ctx); err != nil {
		return err
	}
	env := fmt.Sprintf("# Written by `go run ./hack/kind up`.\nKUBECONFIG=%s\nK8S_TESTRUN_KIND_CLUSTER=%s\nK8S_TESTRUN_KIND_REGISTRY=localhost:%d\nK8S_TESTRUN_KIND_NODE_IMAGE=%s\n",
		k.Kubeconfig(), k.Name, k.RegistryPort, node)
	if err := os.WriteFile(k.EnvFile(), []byte(env), 0o644); err != nil {
		return err
	}
	wide, _ := k.kubectl(ctx, nil, "get", "nodes", "-o", "wide")
	fmt.Fprintln(k.out, wide)
	k.log.Info("kind cluster is up", "name", k.Name, "took", time.Since(start).Round(time.Second), "env", k.EnvFile())
	return nil
}

func (k *Kind) waitDefaultServiceAccount(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := k.kubectl(ctx, nil, "get", "serviceaccount", "default", "-n", "default"); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the default ServiceAccount did not appear within 2m")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// nodeDiagnostics is what tells why a node did not come up.
func (k *Kind) nodeDiagnostics(ctx context.Context) string {
	var b strings.Builder
	for _, args := range [][]string{
		{"logs", "--tail", "30", k.Node()},
		{"exec", k.Node(), "journalctl", "--no-pager", "-n", "40", "-u", "kubelet"},
		{"exec", k.Node(), "journalctl", "--no-pager", "-n", "20", "-u", "containerd"},
	} {
		out, err := k.docker(ctx, nil, args...)
		fmt.Fprintf(&b, "$ docker %s\n%s\n", strings.Join(args, " "), out)
		if err != nil {
			fmt.Fprintf(&b, "%v\n", err)
		}
	}
	return b.String()
}

// kubectl runs the node image's kubectl version from the local cluster's
// cache against the kind cluster.
func (k *Kind) kubectl(ctx context.Context, stdin *strings.Reader, args ...string) (string, error) {
	version, err := k.kubeVersion()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(k.CacheDir, "kube", version, "kubectl")
	if _, err := os.Stat(bin); err != nil {
		bin = filepath.Join(k.CacheDir, "kind", "bin", "kube-"+version, "kubectl")
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", k.Kubeconfig()}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", short(args), err, lastLines(string(out), 20))
	}
	return strings.TrimSpace(string(out)), nil
}

// Status fails unless the cluster's node is Ready.
func (k *Kind) Status(ctx context.Context) error {
	out, err := k.kubectl(ctx, nil, "get", "nodes", "-o", "wide")
	if err != nil {
		return err
	}
	fmt.Fprintln(k.out, out)
	return nil
}

// Down deletes the cluster, the registry container and the kind network,
// removes the kubeconfig and env file, and checks that none remains.
func (k *Kind) Down(ctx context.Context) error {
	var errs []error
	if out, err := k.kindTool(ctx, "get", "clusters"); err == nil && hasLine(out, k.Name) {
		if _, err := k.kindTool(ctx, "delete", "cluster", "--name", k.Name, "--kubeconfig", k.Kubeconfig()); err != nil {
			errs = append(errs, err)
		}
	} else if err != nil {
		errs = append(errs, err)
	}
	if _, err := k.docker(ctx, nil, "inspect", RegistryName); err == nil {
		if _, err := k.docker(ctx, nil, "rm", "-f", "-v", RegistryName); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := k.docker(ctx, nil, "network", "inspect", "kind"); err == nil {
		if _, err := k.docker(ctx, nil, "network", "rm", "kind"); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range []string{k.Kubeconfig(), k.EnvFile(), filepath.Join(k.Dir, "kind-config.yaml"), filepath.Join(k.Dir, "audit-policy.yaml")} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	left, err := k.Leftovers(ctx)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("left after down: %s", strings.Join(left, "; "))
	}
	fmt.Fprintf(k.out, "kind cluster %s, its registry and network are gone\n", k.Name)
	return nil
}

// Leftovers lists what of the cluster remains in the engine and on disk:
// containers of the cluster or the registry or a node build, the kind
// network, the kubeconfig and env file.
func (k *Kind) Leftovers(ctx context.Context) ([]string, error) {
	var left []string
	for _, filter := range []string{
		"label=io.x-k8s.kind.cluster=" + k.Name,
		"name=^" + RegistryName + "$",
		"label=io.k8s-testrun.kind-build=1",
	} {
		out, err := k.docker(ctx, nil, "ps", "-a", "-q", "--filter", filter)
		if err != nil {
			return nil, err
		}
		for _, id := range strings.Fields(out) {
			left = append(left, fmt.Sprintf("container %s (%s)", id, filter))
		}
	}
	out, err := k.docker(ctx, nil, "network", "ls", "-q", "--filter", "name=^kind$")
	if err != nil {
		return nil, err
	}
	for _, id := range strings.Fields(out) {
		left = append(left, "network kind "+id)
	}
	for _, f := range []string{k.Kubeconfig(), k.EnvFile()} {
		if _, err := os.Stat(f); err == nil {
			left = append(left, "file "+f)
		}
	}
	return left, nil
}

func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}
