package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The synthetic log is what A1 says it is: a run's share of lines that
// its collector decodes and counts, every one of them on an endpoint of
// the universe but the CRD's.
func TestA1ChildCountsTheRunsLines(t *testing.T) {
	log := filepath.Join(t.TempDir(), "audit.log")
	n, err := writeSyntheticAudit(log, 2<<20, 0.3)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(2<<20))
	repo, err := repoRoot()
	require.NoError(t, err)
	var out, errOut bytes.Buffer
	code := apicovChild(context.Background(), []string{filepath.Join(repo, apicovUniverse), log}, Env{Stdout: &out, Stderr: &errOut})
	require.Equal(t, ExitOK, code, errOut.String())
	var rep A1Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Equal(t, n, rep.Bytes)
	assert.InDelta(t, 0.3, float64(rep.Decoded)/float64(rep.Lines), 0.02)
	assert.Equal(t, rep.Decoded, rep.Counted, "every line of the run's pods counts")
	assert.Equal(t, len(syntheticRequests)-1, rep.Hit, "all but the CRD's request are endpoints")
	assert.Positive(t, rep.VmHWM)
}
