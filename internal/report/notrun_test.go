package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// TestNotRunCountsApart: a test that never ran (the run was stopped or
// cancelled) is neither an error nor listed among the failures; the
// closing line counts it.
func TestNotRunCountsApart(t *testing.T) {
	cases := []Case{
		{TestID: "t.py::a", Status: junit.StatusFailed, Message: "boom"},
		{TestID: "t.py::b", Status: junit.StatusError, Message: "not run: the run stopped", NotRun: true},
		{TestID: "t.py::c", Status: junit.StatusError, Message: "not run: the run stopped", NotRun: true},
		{TestID: "t.py::d", Status: junit.StatusPassed},
	}
	s := Count(cases)
	assert.Equal(t, Summary{Counts: Counts{Failed: 1, Passed: 1, NotRun: 2, Total: 4}}, s)
	s.Wall = 2 * time.Second
	var b strings.Builder
	require.NoError(t, Text(&b, s, cases, Options{Slowest: -1}))
	out := b.String()
	assert.Contains(t, out, "FAILED t.py::a")
	assert.NotContains(t, out, "t.py::b", "a test that never ran is no failure to show")
	assert.True(t, strings.HasSuffix(out, "1 failed, 1 passed, 2 not run in 2s (4 tests)\n"), out)
	assert.Contains(t, out, "wall time 2s for 2 tests: 1.00 tests/s\n", "the rate counts the tests that ran")
}
