package sidecar

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

func artifactFiles(files []transport.File) (names []string, size int) {
	for _, f := range files {
		if strings.HasPrefix(f.Name, "artifacts/") {
			names = append(names, f.Name)
			size += len(f.Data)
		}
	}
	return names, size
}

func notes(files []transport.File) string {
	for _, f := range files {
		if f.Name == transport.TruncatedFile {
			return string(f.Data)
		}
	}
	return ""
}

// TestCollectBoundsArtifactCount: a test that writes more artifact files
// than MaxArtifactFiles gets that many shipped, and a note of the rest.
func TestCollectBoundsArtifactCount(t *testing.T) {
	dir := t.TempDir()
	arts := filepath.Join(dir, "artifacts")
	require.NoError(t, os.MkdirAll(arts, 0o755))
	const n = transport.MaxArtifactFiles + 500
	for i := range n {
		require.NoError(t, os.WriteFile(filepath.Join(arts, fmt.Sprintf("%05d", i)), nil, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "exitcode"), []byte("0\n"), 0o644))

	files := collect(dir, 1<<20, slog.New(slog.DiscardHandler))
	names, _ := artifactFiles(files)
	assert.Equal(t, transport.MaxArtifactFiles, len(names))
	assert.Contains(t, notes(files), fmt.Sprintf("skipped 500 artifact files over the limit of %d files per test", transport.MaxArtifactFiles))
	assert.Contains(t, names, "artifacts/00000")
}

// TestCollectBoundsArtifactBytes: artifacts past MaxArtifactBytes in all
// are left out, each with a note.
func TestCollectBoundsArtifactBytes(t *testing.T) {
	dir := t.TempDir()
	arts := filepath.Join(dir, "artifacts")
	require.NoError(t, os.MkdirAll(arts, 0o755))
	const each = 20 << 20
	for i := range 4 {
		// Sparse: no disk, and read as zeros.
		f, err := os.Create(filepath.Join(arts, fmt.Sprintf("big%d", i)))
		require.NoError(t, err)
		require.NoError(t, f.Truncate(each))
		require.NoError(t, f.Close())
	}
	files := collect(dir, 32<<20, slog.New(slog.DiscardHandler))
	names, size := artifactFiles(files)
	assert.Equal(t, []string{"artifacts/big0", "artifacts/big1", "artifacts/big2"}, names)
	assert.LessOrEqual(t, size, transport.MaxArtifactBytes)
	assert.Contains(t, notes(files), fmt.Sprintf("skipped artifacts/big3 (%d bytes): the artifacts exceed %d bytes per test", each, transport.MaxArtifactBytes))
}
