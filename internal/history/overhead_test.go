package history

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverheadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "durations.json")
	d, err := Overhead(path)
	require.NoError(t, err)
	assert.Zero(t, d, "a missing file holds no overhead")
	require.NoError(t, SetOverhead(path, time.Second))
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "a missing file is left missing")

	require.NoError(t, Save(path, nil, map[string]time.Duration{"a.py::t": time.Second}))
	d, err = Overhead(path)
	require.NoError(t, err)
	assert.Zero(t, d, "no figure yet")
	require.NoError(t, SetOverhead(path, 2500*time.Millisecond))
	d, err = Overhead(path)
	require.NoError(t, err)
	assert.Equal(t, 2500*time.Millisecond, d)
	tests, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Duration{"a.py::t": time.Second}, tests, "the tests' durations stay")

	require.NoError(t, os.WriteFile(path, []byte(`{"version": 1, "tests": {}, "pod_overhead_seconds": -4}`), 0o600))
	d, err = Overhead(path)
	require.NoError(t, err)
	assert.Zero(t, d, "a negative figure is none")
	require.NoError(t, os.WriteFile(path, []byte(`{"version": 9}`), 0o600))
	_, err = Overhead(path)
	assert.ErrorContains(t, err, "version 9")
}
