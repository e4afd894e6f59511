//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// uniqueProject copies the project src to a temporary directory with a
// file of random content, so its test image is one no earlier run built
// and no collection is cached for it.
func uniqueProject(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(src)))
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nonce.txt"), []byte(hex.EncodeToString(b)+"\n"), 0o644))
	return dir
}

func verdicts(ts junit.Testsuites) map[string]string {
	out := map[string]string{}
	for key, tc := range byKey(ts) {
		switch {
		case tc.Error != nil:
			out[key] = "error"
		case tc.Failure != nil:
			out[key] = "failed"
		case tc.Skipped != nil:
			out[key] = "skipped"
		default:
			out[key] = "passed"
		}
	}
	return out
}

var logTime = regexp.MustCompile(`(?m)^time=(\S+) level=\w+ msg="?(pushed test image|running tests)`)

// discoveryPhase is the time from the image's push to the start of the
// tests, as the run's own log (-v) says.
func discoveryPhase(t *testing.T, stderr string) time.Duration {
	t.Helper()
	at := map[string]time.Time{}
	for _, m := range logTime.FindAllStringSubmatch(stderr, -1) {
		ts, err := time.Parse(time.RFC3339Nano, m[1])
		require.NoError(t, err)
		at[m[2]] = ts
	}
	require.Len(t, at, 2, "the log says when the image was pushed and when the tests started")
	return at["running tests"].Sub(at["pushed test image"])
}

// TestCollectionCache runs the sample three times: the first run discovers
// in a pod; the second, with the same image, reads the collection kept
// beside it, creates no discovery pod and reports the same verdicts; the
// third, with one test file changed, discovers again.
func TestCollectionCache(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-ccache")
	ctx := Context(t, 15*time.Minute)
	project := uniqueProject(t, Testdata("sample"))
	pods := c.recordPods(ctx, t, ns, "discover")

	run := func(name string) (CLIResult, map[string]string) {
		report := filepath.Join(t.TempDir(), name+".xml")
		res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "-v"), project)...)
		require.Equal(t, 1, res.Exit, "the sample has failing tests: %s", res.Stderr)
		c.RequireNoRunPods(t, ns)
		return res, verdicts(readReport(t, report))
	}

	first, firstVerdicts := run("first")
	assert.Contains(t, first.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
	require.Len(t, firstVerdicts, 12)
	require.Eventually(t, func() bool {
		n, _ := pods.ran()
		return n == 1
	}, 10*time.Second, 100*time.Millisecond, "the first run discovers in a pod")

	repeat, repeatVerdicts := run("repeat")
	assert.Contains(t, repeat.Stderr, "tests from the collection cache")
	assert.Equal(t, firstVerdicts, repeatVerdicts, "the same verdicts, test for test")
	assert.Contains(t, repeat.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
	// A pod created during the run would be in the informer's cache by
	// now: the run watched it to its end before deleting it.
	time.Sleep(2 * time.Second)
	n, _ := pods.ran()
	assert.Equal(t, 1, n, "a repeat run with an unchanged image creates no discovery pod")

	path := filepath.Join(project, "tests", "test_basic.py")
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(src, []byte("\n\ndef test_added_since():\n    assert True\n")...), 0o644))
	changed, changedVerdicts := run("changed")
	assert.NotContains(t, changed.Stderr, "tests from the collection cache")
	require.Eventually(t, func() bool {
		n, _ := pods.ran()
		return n == 2
	}, 10*time.Second, 100*time.Millisecond, "a changed test file discovers again")
	assert.Len(t, changedVerdicts, 13)
	assert.Equal(t, "passed", changedVerdicts["tests.test_basic::test_added_since"])

	// The first run's discovery pod also pulls the new image onto the
	// node, which the repeat run's test pods then find there; the changed
	// run's pulls only the changed source layer, so its discovery is the
	// one a repeat run saves.
	missPhase, hitPhase, changedPhase := discoveryPhase(t, first.Stderr), discoveryPhase(t, repeat.Stderr), discoveryPhase(t, changed.Stderr)
	assert.Less(t, hitPhase, changedPhase, "reading the cache is quicker than a discovery pod")
	t.Logf("wall: first %s, repeat %s, changed %s; discovery phase: first (with the image pull) %s, repeat (cached) %s, changed %s; saved per repeat run: %s",
		first.Wall.Round(time.Millisecond), repeat.Wall.Round(time.Millisecond), changed.Wall.Round(time.Millisecond),
		missPhase.Round(time.Millisecond), hitPhase.Round(time.Millisecond), changedPhase.Round(time.Millisecond),
		(changedPhase - hitPhase).Round(time.Millisecond))
}
