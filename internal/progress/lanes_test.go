package progress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A test of the flaky lane is retried with no --retries: its first failure
// is a RERUN and its pass FLAKY, while a plain test's failure is final.
func TestFlakyLaneRetriesWithoutRetries(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{})
	p.Start(Start{RunID: "r", Tests: 2, Parallelism: 2, MaxAttempts: 1, FlakyAttempts: 3})
	p.Result(Result{TestID: "t::marked", Verdict: Failed, Attempt: 1, Pod: "p1", FlakyLane: true})
	p.Result(Result{TestID: "t::plain", Verdict: Failed, Attempt: 1, Pod: "p2"})
	p.Result(Result{TestID: "t::marked", Verdict: Passed, Attempt: 2, Pod: "p3", FlakyLane: true})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")[1:]
	require.Len(t, lines, 3)
	assert.Equal(t, "RERUN   t::marked  0.00s  attempt 1  pod p1", lines[0])
	assert.Equal(t, "FAILED  t::plain  0.00s  attempt 1  pod p2", lines[1])
	assert.Equal(t, "FLAKY   t::marked  0.00s  attempt 2", lines[2])
}
