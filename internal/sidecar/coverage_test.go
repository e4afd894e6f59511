package sidecar

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// TestRunShipsCoverageData: coverage.py's data files ship whole, under
// coverage/, ahead of artifacts and output when the block is tight; one
// too large to read whole is left out with a note, never cut.
func TestRunShipsCoverageData(t *testing.T) {
	const limit = 8 << 10 // reads at most 128 KiB of any file
	dir := t.TempDir()
	writeFile(t, dir, "junit.xml", []byte(`<testsuites/>`), 0o644)
	data := make([]byte, 3<<10) // random: it does not compress
	_, _ = rand.Read(data)
	writeFile(t, dir, ".coverage.pod-a.12.345", data, 0o644)
	writeFile(t, dir, ".coverage.pod-a.13.346", make([]byte, 200<<10), 0o644)
	writeFile(t, dir, ".coveragerc", []byte("[run]\n"), 0o644)
	noise := make([]byte, 6<<10)
	_, _ = rand.Read(noise)
	writeFile(t, dir, "artifacts/noise.bin", noise, 0o644)
	finish(t, dir)

	var out bytes.Buffer
	require.NoError(t, Run(context.Background(), dir, &out, Options{Limit: limit}))
	got := decodeLog(t, out.Bytes())
	require.Contains(t, got, transport.CoverageDir+"/.coverage.pod-a.12.345")
	assert.Equal(t, data, got[transport.CoverageDir+"/.coverage.pod-a.12.345"].Data)
	assert.NotContains(t, got, transport.CoverageDir+"/.coverage.pod-a.13.346")
	assert.NotContains(t, got, transport.CoverageDir+"/.coveragerc", "only data files")
	assert.NotContains(t, got, "artifacts/noise.bin", "the artifact goes first")
	notes := string(got[transport.TruncatedFile].Data)
	assert.Contains(t, notes, "skipped .coverage.pod-a.13.346: larger than 131072 bytes")
	assert.Contains(t, notes, "dropped artifacts/noise.bin")
}

// TestRunBoundsCoverageDataTogether: many data files, each small enough,
// are shipped only up to the read bound together.
func TestRunBoundsCoverageDataTogether(t *testing.T) {
	const limit = 4 << 10 // reads at most 64 KiB in all
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		writeFile(t, dir, ".coverage.p.1."+n, make([]byte, 20<<10), 0o644)
	}
	finish(t, dir)
	var out bytes.Buffer
	require.NoError(t, Run(context.Background(), dir, &out, Options{Limit: limit}))
	got := decodeLog(t, out.Bytes())
	shipped := 0
	for name := range got {
		if strings.HasPrefix(name, transport.CoverageDir+"/") {
			shipped++
		}
	}
	assert.Equal(t, 3, shipped, "3 of 20 KiB fit in 64 KiB")
	assert.Equal(t, 2, strings.Count(string(got[transport.TruncatedFile].Data), "the coverage data files exceed 65536 bytes together"))
}
