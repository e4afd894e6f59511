package app

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// TestClusterKnobDefaultsMatch: config's defaults, which --help and
// action.yml show, are the ones internal/k8s applies to a zero value.
func TestClusterKnobDefaultsMatch(t *testing.T) {
	assert.Equal(t, k8s.DefaultNodeLostAfter, config.DefaultNodeLostAfter)
	assert.Equal(t, float32(k8s.DefaultQPS), float32(config.DefaultKubeAPIQPS))
	assert.Equal(t, k8s.DefaultBurst, config.DefaultKubeAPIBurst)
}

// TestPipelineClientRateLimits: --kube-api-qps and --kube-api-burst reach
// the rest.Config of the run's client.
func TestPipelineClientRateLimits(t *testing.T) {
	kubeconfig := []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: "t"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`)
	dir := t.TempDir()
	cfg, err := config.ParseRun([]string{"--repository", "r.io/x", "--kube-api-qps", "321", "--kube-api-burst", "654", "--node-lost-after", "7s", dir}, func(string) string { return "" }, &bytes.Buffer{})
	require.NoError(t, err)
	cfg.KubeconfigData = kubeconfig
	p, err := newPipeline(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.NoError(t, err)
	assert.Equal(t, float32(321), p.cluster.Config.QPS)
	assert.Equal(t, 654, p.cluster.Config.Burst)
	assert.Equal(t, 7*time.Second, p.cfg.NodeLostAfter)
}
