//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bounds on what one hostile test may cost the runner.
const (
	maxRunnerRSS = 200 << 20
	maxJUnit     = 8 << 20
	maxTerminal  = 1 << 20
)

var peakRE = regexp.MustCompile(`msg="peak memory" vmhwm_bytes=(\d+)`)

// TestHugeOutputStaysBounded runs a test that fails with a 64 MiB
// assertion message and one that prints 64 MiB to each of stdout and
// stderr. The runner's peak resident set, the JUnit report and the
// terminal output stay bounded, and the cut texts say what was cut.
func TestHugeOutputStaysBounded(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-huge")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "-v"), Testdata("huge-output"))...)
	require.Equal(t, 1, res.Exit, "two failed tests")
	c.RequireNoRunPods(t, ns)

	m := peakRE.FindStringSubmatch(res.Stderr)
	require.NotNil(t, m, "the runner logs its peak memory with -v")
	rss, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	t.Logf("runner peak RSS %.1f MB", float64(rss)/(1<<20))
	assert.LessOrEqual(t, rss, int64(maxRunnerRSS), "runner peak RSS")

	st, err := os.Stat(report)
	require.NoError(t, err)
	t.Logf("JUnit %.2f MB, terminal %.2f MB", float64(st.Size())/(1<<20), float64(len(res.Stdout)+len(res.Stderr))/(1<<20))
	assert.LessOrEqual(t, st.Size(), int64(maxJUnit), "JUnit report size")
	assert.LessOrEqual(t, len(res.Stdout)+len(res.Stderr), maxTerminal, "terminal output")

	cases := byKey(readReport(t, report))
	require.Len(t, cases, 2)
	msg := cases["tests.test_huge::test_fails_with_a_64_mib_message"]
	require.NotNil(t, msg.Failure)
	assert.Regexp(t, `cut \d+ bytes|\d+ more bytes`, msg.Failure.Message+msg.Failure.Text, "the cut message says how much was cut")
	out := cases["tests.test_huge::test_prints_64_mib_and_fails"]
	require.NotNil(t, out.Failure)
	assert.Contains(t, out.Failure.Message+out.Failure.Text, "after 128 MiB of output")
}
