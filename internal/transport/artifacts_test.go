package transport

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bombFiles is issue 18's inode bomb: 86,041 empty artifact files, which
// compress into one block of 1 MiB.
const bombFiles = 86_041

// artifactBomb is a block, made as a hostile collector would (no cap of
// Encode's), of a result and n empty artifact files.
func artifactBomb(t testing.TB, n int) []byte {
	t.Helper()
	files := results([]byte("out\n"))
	for i := range n {
		files = append(files, File{Name: fmt.Sprintf("artifacts/%06d", i), Data: []byte{}})
	}
	payload, err := pack(files, -1)
	require.NoError(t, err)
	return frame(payload)
}

func countArtifacts(files []File) (n int, bytes int) {
	for _, f := range files {
		if strings.HasPrefix(f.Name, "artifacts/") {
			n++
			bytes += len(f.Data)
		}
	}
	return n, bytes
}

func truncated(files []File) string {
	for _, f := range files {
		if f.Name == TruncatedFile {
			return string(f.Data)
		}
	}
	return ""
}

// TestDecodeArtifactBomb decodes the bomb: it keeps MaxArtifactFiles
// files, notes the rest, and allocates megabytes, not gigabytes.
func TestDecodeArtifactBomb(t *testing.T) {
	block := artifactBomb(t, bombFiles)
	t.Logf("block of %d empty artifact files: %d bytes", bombFiles, len(block))
	require.LessOrEqual(t, len(block), 1<<20+1<<19, "about 1 MiB")

	var files []File
	var err error
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	allocs := testing.AllocsPerRun(1, func() { files, err = Decode(bytes.NewReader(block)) })
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("decoding: %.0f allocations, %d MiB allocated (two runs)", allocs, allocated>>20)
	if !raceEnabled {
		// The bound is the plain build's: make unit runs this test again
		// without the race detector, whose runtime allocates besides.
		assert.Less(t, allocated/2, uint64(64<<20), "bytes allocated by one decode")
	}

	n, _ := countArtifacts(files)
	assert.Equal(t, MaxArtifactFiles, n)
	assert.Contains(t, truncated(files), fmt.Sprintf("decoder dropped %d artifact files over the limit of %d files", bombFiles-MaxArtifactFiles, MaxArtifactFiles))
	for _, name := range []string{"junit.xml", "exitcode", "output.txt"} {
		assert.True(t, hasFile(files, name), "%s kept", name)
	}
}

func hasFile(files []File, name string) bool {
	for _, f := range files {
		if f.Name == name {
			return true
		}
	}
	return false
}

// TestDecodeArtifactBytes keeps at most MaxArtifactBytes of artifacts.
func TestDecodeArtifactBytes(t *testing.T) {
	files := results([]byte("out\n"))
	const each = 6 << 20 // under DefaultFile
	for i := range 12 {
		files = append(files, File{Name: fmt.Sprintf("artifacts/%02d", i), Data: bytes.Repeat([]byte{byte('a' + i)}, each)})
	}
	payload, err := pack(files, -1)
	require.NoError(t, err)
	// A block limit as large as the artifacts, so that only the artifact
	// limit cuts.
	got, err := DecodeLimits(bytes.NewReader(frame(payload)), Limits{Block: 128 << 20})
	require.NoError(t, err)
	n, size := countArtifacts(got)
	assert.Equal(t, MaxArtifactBytes/each, n)
	assert.LessOrEqual(t, size, MaxArtifactBytes)
	assert.Contains(t, truncated(got), fmt.Sprintf("decoder dropped artifacts/%02d (%d bytes): the artifacts exceed %d bytes", n, each, MaxArtifactBytes))
}

// TestDecodeArtifactNotesAreBounded: artifacts dropped one by one (here:
// past MaxArtifactBytes) count towards MaxArtifactFiles, so their notes
// stay as few.
func TestDecodeArtifactNotesAreBounded(t *testing.T) {
	files := results([]byte("out\n"))
	const big = 8 << 20
	for i := range MaxArtifactBytes / big {
		files = append(files, File{Name: fmt.Sprintf("artifacts/0-%d", i), Data: make([]byte, big)})
	}
	for i := range 5000 {
		files = append(files, File{Name: fmt.Sprintf("artifacts/1-%05d", i), Data: []byte("x")})
	}
	payload, err := pack(files, -1)
	require.NoError(t, err)
	got, err := DecodeLimits(bytes.NewReader(frame(payload)), Limits{Block: 128 << 20})
	require.NoError(t, err)
	n, size := countArtifacts(got)
	assert.Equal(t, MaxArtifactBytes/big, n)
	assert.Equal(t, MaxArtifactBytes, size)
	notes := strings.Count(truncated(got), "\n")
	assert.LessOrEqual(t, notes, MaxArtifactFiles+1, "notes")
	assert.Contains(t, truncated(got), fmt.Sprintf("decoder dropped %d artifact files over the limit of 1000 files per test", 5000+MaxArtifactBytes/big-MaxArtifactFiles))
}
