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
	require.NoError(t, dropCapabilities(f, bnd, true))
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

// docker exec gives runc a process.json: capabilities at its top level.
func TestDropCapabilitiesOfExec(t *testing.T) {
	f := filepath.Join(t.TempDir(), "process.json")
	require.NoError(t, os.WriteFile(f, []byte(`{"args":["cat"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}`), 0o600))
	require.NoError(t, dropCapabilities(f, map[string]bool{"CAP_KILL": true}, false))
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	assert.JSONEq(t, `{"args":["cat"],"capabilities":{"bounding":["CAP_KILL"]}}`, string(b))
}

func TestFlagArg(t *testing.T) {
	assert.Equal(t, "/b", flagArg([]string{"--root", "/r", "create", "--bundle", "/b", "id"}, "--bundle", "-b"))
	assert.Equal(t, "/b", flagArg([]string{"create", "--bundle=/b", "id"}, "--bundle", "-b"))
	assert.Equal(t, "/p.json", flagArg([]string{"exec", "--process", "/p.json", "--detach", "id"}, "--process", "-p"))
	assert.Equal(t, "", flagArg([]string{"delete", "id"}, "--bundle", "-b"))
}
