package k8s

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const oneClusterKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: x
  context: {cluster: c, user: u, namespace: ns}
current-context: x
`

// TestConnectRateLimits: the client's QPS and burst are the ones given,
// else the defaults, which lift client-go's own (5 and 10).
func TestConnectRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		qps       float32
		burst     int
		wantQPS   float32
		wantBurst int
	}{
		{"defaults", 0, 0, DefaultQPS, DefaultBurst},
		{"given", 500, 1000, 500, 1000},
		{"lower", 2.5, 3, 2.5, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Connect(ClientOptions{KubeconfigData: []byte(oneClusterKubeconfig), QPS: tc.qps, Burst: tc.burst})
			require.NoError(t, err)
			assert.Equal(t, tc.wantQPS, c.Config.QPS)
			assert.Equal(t, tc.wantBurst, c.Config.Burst)
			assert.Equal(t, "ns", c.Namespace)
		})
	}
}
