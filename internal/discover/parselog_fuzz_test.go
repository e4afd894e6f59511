package discover

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// FuzzParseLog feeds ParseLog discovery pod logs, which the image under test
// writes: pytest's output and the block Collect prints. Whatever it reads,
// it does not panic; ids it accepts are node ids, each once; what it
// reports skipped was skipped.
func FuzzParseLog(f *testing.F) {
	outputs, err := filepath.Glob("testdata/*.txt")
	require.NoError(f, err)
	require.NotEmpty(f, outputs)
	blocks := [][]byte{[]byte(`<testsuites/>`)}
	for _, name := range []string{"collectskip-pytest7.xml", "collectskip-pytest8.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		blocks = append(blocks, b)
	}
	for i, name := range outputs {
		out, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(out, 0)
		var log bytes.Buffer
		log.Write(out)
		require.NoError(f, transport.Encode(&log, []transport.File{{Name: JUnitFile, Data: blocks[i%len(blocks)]}}, transport.DefaultBlock))
		f.Add(log.Bytes(), []int{0, 2, 5}[i%3])
	}
	f.Fuzz(func(t *testing.T, log []byte, exitCode int) {
		got, err := ParseLog(log, exitCode)
		for _, tc := range got.Skipped {
			assert.NotNil(t, tc.Skipped, "only skipped testcases")
		}
		if err != nil {
			assert.Empty(t, got.IDs)
			if !errors.Is(err, ErrNoTests) {
				assert.Empty(t, got.Skipped)
			}
			return
		}
		require.NotEmpty(t, got.IDs)
		seen := map[string]bool{}
		for _, id := range got.IDs {
			assert.True(t, strings.Contains(id, "::"), "%q is a node id", id)
			assert.False(t, seen[id], "duplicate id %q", id)
			seen[id] = true
		}
	})
}
