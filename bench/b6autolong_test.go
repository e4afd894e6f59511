package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteLongSuite: the long suite holds its four 20 s tests in two
// modules, 300 short tests in 20 others, half of each in a class, and some
// that fail or skip, so that every verdict is compared.
func TestWriteLongSuite(t *testing.T) {
	dir := t.TempDir()
	n, err := WriteLongSuite(dir)
	require.NoError(t, err)
	assert.Equal(t, 324, n)
	var all strings.Builder
	files, err := filepath.Glob(filepath.Join(dir, "tests", "*.py"))
	require.NoError(t, err)
	assert.Len(t, files, 22)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		all.Write(b)
	}
	text := all.String()
	assert.Equal(t, n, strings.Count(text, "def test_"))
	assert.Equal(t, 4, strings.Count(text, "time.sleep(20)"))
	assert.Equal(t, 20, strings.Count(text, "class TestGroup:"))
	assert.Positive(t, strings.Count(text, "fails on purpose"))
	assert.Positive(t, strings.Count(text, "skipped on purpose"))
	slow, err := os.ReadFile(filepath.Join(dir, "tests", "test_slow_0.py"))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(slow), "time.sleep(20)"), "two long tests share a module")
}
