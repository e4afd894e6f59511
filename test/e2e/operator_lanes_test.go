//go:build e2e

package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testLanes runs testdata/lanes in operator mode with the flags of
// TestMarkerLanes: the same lanes hold, checked from the API's pod events
// (no serial or disruptive pod beside another test pod, serial after the
// parallel ones, disruptive last, the slow test under the slow timeout, the
// flaky one retried with --retries 0).
func (e *opEnv) testLanes(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "operator.xml")
	lives := e.c.recordLives(ctx, t, e.ns)
	res := e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report, "--mode", "operator", "--timeout", "30s",
		"--lane", "serial=serial,db_migration"), Testdata("lanes"))...)
	e.c.RequireNoRunPods(t, e.ns)
	assertLanes(t, res, report, lives())
}

// testRerunFailed reruns, in operator mode, the failed tests of the
// sample's k8s-testrun report from direct mode: exactly its 2 failed and 1
// errored tests run, one pod each, and fail again (exit code 1).
func (e *opEnv) testRerunFailed(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	pods := e.c.recordTestPods(ctx, t, e.ns)
	report := filepath.Join(t.TempDir(), "rerun.xml")
	res := e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report, "--mode", "operator", "--rerun-failed", e.directReport), Testdata("sample"))...)
	assert.Equal(t, 1, res.Exit, "the failures fail again: %s", res.Stderr)
	assert.Contains(t, res.Stdout, "2 failed, 1 error")
	e.c.RequireNoRunPods(t, e.ns)

	got := reportTestIDs(t, readReport(t, report))
	ids := make([]string, 0, len(got))
	for id := range got {
		ids = append(ids, id)
	}
	assert.ElementsMatch(t, sampleFailed, ids, "the report holds exactly the failed tests")
	require.Contains(t, got, sampleFailed[2])
	assert.NotNil(t, got[sampleFailed[2]].Error, "the fixture error stays an error")
	n, ran := pods.ran()
	assert.Equal(t, 3, n, "one pod per failed test, no other")
	assert.ElementsMatch(t, sampleFailed, ran, "the pods ran exactly the failed tests")
}
