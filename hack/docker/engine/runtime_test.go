package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBoundingSet(t *testing.T) {
	f := filepath.Join(t.TempDir(), "status")
	require.NoError(t, os.WriteFile(f, []byte("Name:\tx\nCapBnd:\t000001fffeffffff\n"), 0o644))
	set, err := boundingSet(f)
	require.NoError(t, err)
	assert.False(t, set["CAP_SYS_RESOURCE"], "bit 24 is clear")
	assert.True(t, set["CAP_SYS_ADMIN"])
	assert.True(t, set["CAP_CHECKPOINT_RESTORE"])
	assert.Len(t, set, len(capNames)-1)
}

func TestDropCapabilities(t *testing.T) {
	f := filepath.Join(t.TempDir(), "config.json")
	spec := `{"ociVersion":"1.0.2","process":{"capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_SYS_RESOURCE","CAP_NEW_ONE"],"effective":["CAP_SYS_RESOURCE"]}},"root":{"path":"rootfs"}}`
	require.NoError(t, os.WriteFile(f, []byte(spec), 0o600))
	bnd := map[string]bool{"CAP_SYS_ADMIN": true}
	require.NoError(t, dropCapabilities(f, bnd))
	var got struct {
		Process struct {
			Capabilities map[string][]string `json:"capabilities"`
		} `json:"process"`
		Root map[string]string `json:"root"`
	}
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, []string{"CAP_SYS_ADMIN", "CAP_NEW_ONE"}, got.Process.Capabilities["bounding"], "unknown names are runc's to judge")
	assert.Empty(t, got.Process.Capabilities["effective"])
	assert.Equal(t, "rootfs", got.Root["path"], "the rest of the spec is kept")
}

func TestBundleArg(t *testing.T) {
	assert.Equal(t, "/b", bundleArg([]string{"--root", "/r", "create", "--bundle", "/b", "id"}))
	assert.Equal(t, "/b", bundleArg([]string{"create", "--bundle=/b", "id"}))
	assert.Equal(t, "", bundleArg([]string{"delete", "id"}))
}
