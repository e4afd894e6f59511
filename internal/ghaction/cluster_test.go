package ghaction

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadClusterKnobs(t *testing.T) {
	ws := workspace(t)
	c, _, err := Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x"}))
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, c.NodeLostAfter)
	assert.Equal(t, float32(300), c.KubeAPIQPS)
	assert.Equal(t, 600, c.KubeAPIBurst)

	c, _, err = Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x", InputNodeLostAfter: "45", InputKubeAPIQPS: "400", InputKubeAPIBurst: "800"}))
	require.NoError(t, err)
	assert.Equal(t, 45*time.Second, c.NodeLostAfter, "a bare number is seconds")
	assert.Equal(t, float32(400), c.KubeAPIQPS)
	assert.Equal(t, 800, c.KubeAPIBurst)
}

func TestReadClusterKnobsBad(t *testing.T) {
	ws := workspace(t)
	for _, tt := range []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"window not a duration", map[string]string{InputNodeLostAfter: "soon"}, `node_lost_after "soon": not a duration, e.g. 90s`},
		{"window too short", map[string]string{InputNodeLostAfter: "100ms"}, `node_lost_after "100ms": must be at least 1s`},
		{"qps not a number", map[string]string{InputKubeAPIQPS: "fast"}, `kube_api_qps "fast": not a number, e.g. 300`},
		{"qps negative", map[string]string{InputKubeAPIQPS: "-1"}, `kube_api_qps "-1": must be above 0`},
		{"burst not a number", map[string]string{InputKubeAPIBurst: "1.5"}, `kube_api_burst "1.5": not a whole number, e.g. 600`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.inputs[InputRepository] = "r.example/x"
			_, _, err := Read(runnerEnv(ws, tt.inputs))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n", "one error")
		})
	}
}
