package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// TestSpilledArtifactsReachTheReport spills an attempt's artifacts: the
// attempt keeps no data in memory, and WriteArtifacts writes the files as
// they were.
func TestSpilledArtifactsReachTheReport(t *testing.T) {
	spill := t.TempDir()
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	files, err := SpillArtifacts(spill, "ktr-r1-abc-1", []transport.File{
		{Name: "screens/a.png", Data: big},
		{Name: "log.txt", Data: []byte("hello\n")},
	})
	require.NoError(t, err)
	require.Len(t, files, 2)
	for _, f := range files {
		assert.Nil(t, f.Data, "%s: no data in memory", f.Name)
		assert.FileExists(t, f.Spilled)
		rel, err := filepath.Rel(spill, f.Spilled)
		require.NoError(t, err)
		assert.True(t, filepath.IsLocal(rel), "spilled under the spill directory: %s", f.Spilled)
	}

	c := plan.Case{ID: "c1", TestID: "t.py::a"}
	at := attempt.Attempt{Number: 1}
	at.Results.Artifacts = files
	rep := NewReport("r1", "img", "sha256:abc", time.Now(), time.Second, []CaseResult{{Case: c, Attempts: []attempt.Attempt{at}, Final: true}})
	out := t.TempDir()
	n, err := rep.WriteArtifacts(out)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	got, err := os.ReadFile(filepath.Join(out, ArtifactDir(c), "screens", "a.png"))
	require.NoError(t, err)
	assert.Equal(t, big, got)
	got, err = os.ReadFile(filepath.Join(out, ArtifactDir(c), "log.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(got))
}
