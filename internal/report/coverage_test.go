package report

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

func TestParseResultsKeepsCoverageData(t *testing.T) {
	res, err := attempt.ParseResults(block(t,
		transport.File{Name: "exitcode", Data: []byte("0\n")},
		transport.File{Name: "coverage/.coverage.pod.7.123", Data: []byte("SQLite format 3\x00a")},
		transport.File{Name: "artifacts/.coverage.x", Data: []byte("an artifact")},
	))
	require.NoError(t, err)
	require.Len(t, res.Coverage, 1)
	assert.Equal(t, ".coverage.pod.7.123", res.Coverage[0].Name)
	assert.Equal(t, "SQLite format 3\x00a", string(res.Coverage[0].Data))
	require.Len(t, res.Artifacts, 1, "an artifact stays an artifact")
}

// TestSaveCoverage: each pod's files land in one directory under names
// coverage combine finds, distinct per pod, and none leaves the directory.
func TestSaveCoverage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cov")
	db := func(s string) []byte { return []byte("SQLite format 3\x00" + s) }
	require.NoError(t, SaveCoverage(dir, "ktr-r-a-1", []transport.File{{Name: ".coverage.host.1.2", Data: db("a")}}))
	require.NoError(t, SaveCoverage(dir, "ktr-r-b-1", []transport.File{{Name: ".coverage.host.1.2", Data: db("b")}}))
	require.NoError(t, SaveCoverage(dir, "ktr-r-c-1", []transport.File{{Name: ".coverage../../../x y", Data: db("c")}}))
	err := SaveCoverage(dir, "ktr-r-d-1", []transport.File{{Name: ".coverage.junk", Data: []byte("not a database")}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "left out .coverage.junk: not coverage.py data")
	require.NoError(t, SaveCoverage(filepath.Join(t.TempDir(), "unused"), "p", nil))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{".coverage.ktr-r-a-1.host.1.2", ".coverage.ktr-r-b-1.host.1.2", ".coverage.ktr-r-c-1x_y"}, names)
	b, err := os.ReadFile(filepath.Join(dir, ".coverage.ktr-r-b-1.host.1.2"))
	require.NoError(t, err)
	assert.Equal(t, "SQLite format 3\x00b", string(b))
}
