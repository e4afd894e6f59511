package history

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadMissingIsEmpty(t *testing.T) {
	d, err := Load(filepath.Join(t.TempDir(), "none.json"))
	require.NoError(t, err)
	assert.Empty(t, d)
}

func TestSaveKeepsWhatDidNotRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache", "durations.json")
	require.NoError(t, Save(path, nil, map[string]time.Duration{"a": 1500 * time.Millisecond, "b": time.Second}))
	old, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Duration{"a": 1500 * time.Millisecond, "b": time.Second}, old)

	require.NoError(t, Save(path, old, map[string]time.Duration{"b": 3 * time.Second, "c": 250 * time.Millisecond}))
	got, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Duration{"a": 1500 * time.Millisecond, "b": 3 * time.Second, "c": 250 * time.Millisecond}, got)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"version": 1`)
}

func TestLoadBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage.json": "not json",
		"future.json":  `{"version": 2, "tests": {}}`,
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		_, err := Load(p)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), p, "the error names the file")
		assert.Contains(t, err.Error(), "delete it", "and the fix")
	}
	p := filepath.Join(dir, "neg.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"version": 1, "tests": {"a": -1, "b": 2}}`), 0o644))
	d, err := Load(p)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Duration{"b": 2 * time.Second}, d, "a negative duration is ignored")
}
