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

// TestWriteArtifactsSkipsABadName: a bad name skips its file only; the
// files after it, of the same test and of the next, are written.
func TestWriteArtifactsSkipsABadName(t *testing.T) {
	a := plan.Case{ID: "aaaaaaaaaaaa", TestID: "tests/test_a.py::test_a"}
	b := plan.Case{ID: "bbbbbbbbbbbb", TestID: "tests/test_a.py::test_b"}
	withArtifacts := func(c plan.Case, names ...string) CaseResult {
		var files []transport.File
		for _, n := range names {
			files = append(files, transport.File{Name: n, Data: []byte("data of " + n)})
		}
		return CaseResult{Case: c, Final: true, Status: plan.Passed, Attempts: []attempt.Attempt{{Number: 1, Results: attempt.Results{Artifacts: files}}}}
	}
	rep := NewReport("r", "", "", time.Now(), time.Second, []CaseResult{
		withArtifacts(a, "../x", "/abs", "nul\x00name", "kept.txt"),
		withArtifacts(b, "next.txt"),
	})
	dir := t.TempDir()
	n, err := rep.WriteArtifacts(dir)
	assert.Equal(t, 2, n)
	var skipped *ArtifactsSkippedError
	require.ErrorAs(t, err, &skipped)
	assert.Equal(t, 3, skipped.N)
	assert.Contains(t, err.Error(), `artifact "../x" of tests/test_a.py::test_a`)
	assert.Contains(t, err.Error(), `artifact "nul\x00name" of tests/test_a.py::test_a`)

	for c, name := range map[plan.Case]string{a: "kept.txt", b: "next.txt"} {
		got, err := os.ReadFile(filepath.Join(dir, ArtifactDir(c), name))
		require.NoError(t, err)
		assert.Equal(t, "data of "+name, string(got))
	}
	assert.NoFileExists(t, filepath.Join(dir, "x"))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "one directory per test, nothing else")
}

func TestArtifactsSkippedErrorIsBounded(t *testing.T) {
	e := &ArtifactsSkippedError{}
	for range 1000 {
		e.add("artifact \"../x\" of t: bad")
	}
	assert.Equal(t, 1000, e.N)
	assert.Len(t, e.Notes, maxSkippedNotes)
	assert.Contains(t, e.Error(), "skipped 1000 artifacts: ")
	assert.Contains(t, e.Error(), "; and 990 more")
}
