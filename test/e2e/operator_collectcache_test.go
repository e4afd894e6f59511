//go:build e2e

package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCollectionCache runs the sample twice in operator mode with an image
// no earlier run built: the first run's operator discovers in a pod, and
// the CLI keeps the log it left in the collection cache; the repeat run,
// with the same image, hands the cached collection to the operator, which
// creates no discovery pod (watched from the API), and reports the same
// verdicts.
func (e *opEnv) testCollectionCache(t *testing.T) {
	ctx := Context(t, 10*time.Minute)
	project := uniqueProject(t, Testdata("sample"))
	pods := e.c.recordPods(ctx, t, e.ns, "discover")
	run := func(name string) (CLIResult, map[string]string) {
		report := filepath.Join(t.TempDir(), name+".xml")
		res := e.c.RunCLI(ctx, t, nil, append(e.c.runArgs(t, e.ns, report, "-v", "--mode", "operator"), project)...)
		require.Equal(t, 1, res.Exit, "the sample has failing tests: %s", res.Stderr)
		e.c.RequireNoRunPods(t, e.ns)
		return res, verdicts(readReport(t, report))
	}

	first, firstVerdicts := run("first")
	assert.NotContains(t, first.Stderr, "tests from the collection cache")
	assert.Contains(t, first.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
	require.Eventually(t, func() bool {
		n, _ := pods.ran()
		return n == 1
	}, 10*time.Second, 100*time.Millisecond, "the first run's operator discovers in a pod")

	repeat, repeatVerdicts := run("repeat")
	assert.Contains(t, repeat.Stderr, "tests from the collection cache")
	assert.Equal(t, firstVerdicts, repeatVerdicts, "the same verdicts, test for test")
	assert.Contains(t, repeat.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
	// A pod created during the run would be in the informer's cache by
	// now: the run lasted past its creation by its test pods' runtimes.
	time.Sleep(2 * time.Second)
	n, _ := pods.ran()
	assert.Equal(t, 1, n, "a repeat run with an unchanged image creates no discovery pod")
}
