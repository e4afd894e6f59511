package config

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseRunClusterKnobs: --node-lost-after, --kube-api-qps and
// --kube-api-burst default to the values the run used before they were
// flags, and take what is given.
func TestParseRunClusterKnobs(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "r.io/x", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, c.NodeLostAfter)
	assert.Equal(t, float32(300), c.KubeAPIQPS)
	assert.Equal(t, 600, c.KubeAPIBurst)

	c, err = ParseRun([]string{"--repository", "r.io/x", "--node-lost-after", "2m", "--kube-api-qps", "750.5", "--kube-api-burst", "1500", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, c.NodeLostAfter)
	assert.Equal(t, float32(750.5), c.KubeAPIQPS)
	assert.Equal(t, 1500, c.KubeAPIBurst)
}

// TestClusterKnobsBad: each bad value is one error naming the knob and
// what would do; zero (a Config not made from flags) means the default.
func TestClusterKnobsBad(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-lost-after", "-1s"}, `node lost after "-1s": must be at least 1s, e.g. 30s`},
		{[]string{"--node-lost-after", "500ms"}, `node lost after "500ms": must be at least 1s`},
		{[]string{"--kube-api-qps", "-5"}, `kube api qps "-5": must be above 0, e.g. 300`},
		{[]string{"--kube-api-burst", "-1"}, `kube api burst "-1": must be 1 or more, e.g. 600`},
	} {
		t.Run(tt.args[0]+" "+tt.args[1], func(t *testing.T) {
			_, err := ParseRun(append([]string{"--repository", "r.io/x", dir}, tt.args...), env(nil), &bytes.Buffer{})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.want), "%q starts with %q", err, tt.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
			var ce *Error
			require.ErrorAs(t, err, &ce)
		})
	}
	c := Config{ProjectDir: dir, BaseImages: []string{DefaultBaseImage}, Platform: DefaultPlatform, Parallelism: 1,
		PendingTimeout: time.Minute, Sidecar: SidecarAuto, ResultLimit: DefaultResultLimit, JUnitPath: "j.xml"}
	assert.NoError(t, c.Validate(), "zero knobs are the defaults")
}
