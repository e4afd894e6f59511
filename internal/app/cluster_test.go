package app

import (
	"bytes"
	"context"
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
	cfg, err := parseRun([]string{"--repository", "r.io/x", "--kube-api-qps", "321", "--kube-api-burst", "654", "--node-lost-after", "7s", dir}, func(string) string { return "" }, &bytes.Buffer{})
	require.NoError(t, err)
	cfg.KubeconfigData = kubeconfig
	p, err := newPipeline(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.NoError(t, err)
	assert.Equal(t, float32(321), p.cluster.Config.QPS)
	assert.Equal(t, 654, p.cluster.Config.Burst)
	assert.Equal(t, 7*time.Second, p.cfg.NodeLostAfter)
}

// TestOperatorRunTakesNodeLostAfter: in operator mode --node-lost-after
// becomes the TestRun's nodeLostAfter.
func TestOperatorRunTakesNodeLostAfter(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 30 * time.Second},
		{[]string{"--node-lost-after", "90s"}, 90 * time.Second},
	} {
		dir := t.TempDir()
		cfg, err := parseRun(append(append([]string{"--repository", "r.io/x", "--mode", "operator"}, tc.args...), dir), func(string) string { return "" }, &bytes.Buffer{})
		require.NoError(t, err)
		p := &pipeline{cfg: cfg, runID: "x-1", cluster: &k8s.Cluster{Namespace: "ns"}}
		run, err := p.testRun("img@sha256:1")
		require.NoError(t, err)
		require.NotNil(t, run.Spec.NodeLostAfter)
		assert.Equal(t, tc.want, run.Spec.NodeLostAfter.Duration)
	}
}

// TestOperatorRateLimitFlagsBad: the operator's --kube-api-qps and
// --kube-api-burst refuse what would stall its client, in one line, exit 2.
func TestOperatorRateLimitFlagsBad(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kube-api-qps", "0"}, `k8s-testrun: --kube-api-qps "0": must be above 0, e.g. 300` + "\n"},
		{[]string{"--kube-api-burst", "-3"}, `k8s-testrun: --kube-api-burst "-3": must be 1 or more, e.g. 600` + "\n"},
	} {
		var out bytes.Buffer
		code := Run(context.Background(), append([]string{"operator"}, tc.args...), Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		assert.Equal(t, ExitInfra, code)
		assert.Equal(t, tc.want, out.String())
	}
}
