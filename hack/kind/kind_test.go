package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// The names kubeadm 1.35 lists (kubeadm config images list) and kind's
// sandbox image each have a recipe; a name without one fails the build
// instead of leaving containerd to pull it.
func TestComponentFor(t *testing.T) {
	bins := map[string]string{"kube-apiserver": "a", "kube-controller-manager": "cm", "kube-scheduler": "s",
		"kube-proxy": "p", "etcd": "e", "coredns": "c", "pause": "pa"}
	for img, want := range map[string]component{
		"registry.k8s.io/kube-apiserver:v1.35.4":          {binary: "a", target: "/usr/local/bin/kube-apiserver"},
		"registry.k8s.io/kube-controller-manager:v1.35.4": {binary: "cm", target: "/usr/local/bin/kube-controller-manager"},
		"registry.k8s.io/kube-scheduler:v1.35.4":          {binary: "s", target: "/usr/local/bin/kube-scheduler"},
		"registry.k8s.io/kube-proxy:v1.35.4":              {binary: "p", target: "/usr/local/bin/kube-proxy"},
		"registry.k8s.io/etcd:3.6.6-0":                    {binary: "e", target: "/usr/local/bin/etcd"},
		"registry.k8s.io/coredns/coredns:v1.13.1":         {binary: "c", target: "/coredns", entrypoint: []string{"/coredns"}},
		"registry.k8s.io/pause:3.10.1":                    {binary: "pa", target: "/pause", entrypoint: []string{"/pause"}},
		"registry.k8s.io/pause:3.10":                      {binary: "pa", target: "/pause", entrypoint: []string{"/pause"}},
	} {
		got, err := componentFor(img, bins)
		require.NoError(t, err, img)
		assert.Equal(t, want, got, img)
	}
	_, err := componentFor("registry.k8s.io/kindnetd:v1", bins)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kindnetd")
}

// The cluster config turns off kindnetd, lets the kubelet run on cgroup v1
// and has containerd read registry hosts from certs.d, as the
// local-registry recipe needs.
func TestClusterConfig(t *testing.T) {
	var cfg struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Networking struct {
			DisableDefaultCNI bool `json:"disableDefaultCNI"`
		} `json:"networking"`
		Nodes []struct {
			Role  string `json:"role"`
			Image string `json:"image"`
		} `json:"nodes"`
		ContainerdConfigPatches []string `json:"containerdConfigPatches"`
		KubeadmConfigPatches    []string `json:"kubeadmConfigPatches"`
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(strings.Replace(clusterConfig, "%s", "ktr-kind/node:x", 1)), &cfg))
	assert.Equal(t, "kind.x-k8s.io/v1alpha4", cfg.APIVersion)
	assert.True(t, cfg.Networking.DisableDefaultCNI)
	require.Len(t, cfg.Nodes, 1)
	assert.Equal(t, "control-plane", cfg.Nodes[0].Role)
	assert.Equal(t, "ktr-kind/node:x", cfg.Nodes[0].Image)
	require.Len(t, cfg.ContainerdConfigPatches, 2)
	assert.Contains(t, cfg.ContainerdConfigPatches[0], `config_path = "/etc/containerd/certs.d"`)
	assert.Contains(t, cfg.ContainerdConfigPatches[1], `restrict_oom_score_adj = true`)
	require.Len(t, cfg.KubeadmConfigPatches, 1)
	var kubelet map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cfg.KubeadmConfigPatches[0]), &kubelet))
	assert.Equal(t, "KubeletConfiguration", kubelet["kind"])
	assert.Equal(t, false, kubelet["failCgroupV1"])
}

// kind's files keep the modes its Dockerfile gives them.
func TestCopyKindFiles(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for _, f := range []string{"usr/local/bin/entrypoint", "kind/bin/mount-product-files.sh", "etc/containerd/config.toml", "LICENSES/README.txt"} {
		require.NoError(t, os.MkdirAll(filepath.Join(src, filepath.Dir(f)), 0o555))
		require.NoError(t, os.WriteFile(filepath.Join(src, f), []byte(f), 0o444))
	}
	require.NoError(t, copyKindFiles(src, dst))
	for f, mode := range map[string]os.FileMode{
		"usr/local/bin/entrypoint":        0o755,
		"kind/bin/mount-product-files.sh": 0o755,
		"etc/containerd/config.toml":      0o644,
	} {
		st, err := os.Stat(filepath.Join(dst, f))
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode().Perm(), f)
	}
	_, err := os.Stat(filepath.Join(dst, "LICENSES", "README.txt"))
	assert.True(t, os.IsNotExist(err))
}

func TestSandboxImage(t *testing.T) {
	conf := "[plugins.\"io.containerd.grpc.v1.cri\"]\n  # use fixed sandbox image\n  sandbox_image = \"registry.k8s.io/pause:3.10\"\n"
	m := sandboxImageRe.FindStringSubmatch(conf)
	require.NotNil(t, m)
	assert.Equal(t, "registry.k8s.io/pause:3.10", m[1])
}

// TestAuditConfigIsTheREADMEs: the audit policy and kind config the
// cluster is made with are the README's blocks, to the byte, wherever the
// documentation shows them.
func TestAuditConfigIsTheREADMEs(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	found := map[string]int{}
	for _, d := range docs {
		b, err := os.ReadFile(d)
		require.NoError(t, err)
		for _, block := range strings.Split(string(b), "```yaml\n")[1:] {
			block, _, _ = strings.Cut(block, "```")
			switch {
			case strings.Contains(block, "kind: Policy") && strings.Contains(block, "audit.k8s.io"):
				assert.Equal(t, string(auditPolicy), block, "the audit policy in %s is hack/kind/audit/audit-policy.yaml", d)
				found["policy"]++
			case strings.Contains(block, "audit-policy-file"):
				assert.Equal(t, string(auditKindConfig), block, "the kind config in %s is hack/kind/audit/kind-config.yaml", d)
				found["kind"]++
			}
		}
	}
	assert.Positive(t, found["policy"], "the documentation shows the audit policy")
	assert.Positive(t, found["kind"], "the documentation shows the kind config")
}

// TestClusterConfigWithAudit: the cluster's config is clusterConfig with
// the README's audit settings on its control-plane node, the policy
// mounted from its absolute path, and kind's own config types read it
// strictly.
func TestClusterConfigWithAudit(t *testing.T) {
	data, err := withAudit([]byte(strings.Replace(clusterConfig, "%s", "ktr-kind/node:x", 1)), "/var/lib/kind/audit-policy.yaml")
	require.NoError(t, err)
	var cfg v1alpha4.Cluster
	require.NoError(t, yaml.UnmarshalStrict(data, &cfg), "%s", data)
	assert.True(t, cfg.Networking.DisableDefaultCNI)
	require.Len(t, cfg.Nodes, 1)
	n := cfg.Nodes[0]
	assert.Equal(t, "ktr-kind/node:x", n.Image)
	require.Len(t, n.ExtraMounts, 1)
	assert.Equal(t, "/var/lib/kind/audit-policy.yaml", n.ExtraMounts[0].HostPath)
	assert.Equal(t, "/etc/kubernetes/policies/audit-policy.yaml", n.ExtraMounts[0].ContainerPath)
	assert.True(t, n.ExtraMounts[0].Readonly)
	require.Len(t, n.KubeadmConfigPatches, 1)
	var patch struct {
		Kind      string `json:"kind"`
		APIServer struct {
			ExtraArgs map[string]string `json:"extraArgs"`
		} `json:"apiServer"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(n.KubeadmConfigPatches[0]), &patch))
	assert.Equal(t, "ClusterConfiguration", patch.Kind)
	assert.Equal(t, "/var/log/kubernetes/kube-apiserver-audit.log", patch.APIServer.ExtraArgs["audit-log-path"], "where kind:CLUSTER reads it")
	assert.Equal(t, "/etc/kubernetes/policies/audit-policy.yaml", patch.APIServer.ExtraArgs["audit-policy-file"])
	assert.Len(t, cfg.ContainerdConfigPatches, 2, "the cluster's own settings stay")
	assert.Len(t, cfg.KubeadmConfigPatches, 1)

	_, err = withAudit([]byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: worker\n"), "/p")
	assert.ErrorContains(t, err, "control-plane")
}
