package config

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRunMode(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "r.io/x", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, ModeDirect, c.Mode, "direct by default")

	c, err = ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, ModeOperator, c.Mode)

	_, err = ParseRun([]string{"--repository", "r.io/x", "--mode", "cluster", dir}, env(nil), &bytes.Buffer{})
	assert.ErrorContains(t, err, `mode "cluster": must be direct or operator`)

	_, err = ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--result-limit", "2000000", dir}, env(nil), &bytes.Buffer{})
	assert.ErrorContains(t, err, "at most 1048576 bytes in operator mode")

	empty := Config{ProjectDir: dir, Repository: "r.io/x", BaseImages: []string{"b"}, Platform: "linux/amd64", Parallelism: 1,
		PendingTimeout: 1, Sidecar: SidecarAuto, ResultLimit: 4096, JUnitPath: "j.xml"}
	assert.NoError(t, empty.Validate(), "an unset mode is direct")
}
