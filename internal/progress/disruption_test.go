package progress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDisruptedAttemptsRerunApartFromRetries: a disrupted attempt prints
// RERUN with its reason while infrastructure retries remain, takes nothing
// from the test's attempts, does not make a later pass flaky, and is final
// (ERROR) once the infrastructure retries are used up.
func TestDisruptedAttemptsRerunApartFromRetries(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{})
	p.Start(Start{RunID: "r", Tests: 3, Parallelism: 3, MaxAttempts: 2, InfraRetries: 1})
	p.Result(Result{TestID: "t::a", Verdict: Error, Attempt: 1, Pod: "p1", Reason: "Evicted", Disrupted: true})
	p.Result(Result{TestID: "t::a", Verdict: Failed, Attempt: 2, Pod: "p2"})
	p.Result(Result{TestID: "t::a", Verdict: Passed, Attempt: 3, Pod: "p3"})
	p.Result(Result{TestID: "t::b", Verdict: Error, Attempt: 1, Pod: "p4", Reason: "PodDeleted", Disrupted: true})
	p.Result(Result{TestID: "t::b", Verdict: Passed, Attempt: 2, Pod: "p5"})
	p.Result(Result{TestID: "t::c", Verdict: Error, Attempt: 1, Pod: "p6", Reason: "Preempted", Disrupted: true})
	p.Result(Result{TestID: "t::c", Verdict: Error, Attempt: 2, Pod: "p7", Reason: "Preempted", Disrupted: true})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")[1:]
	require.Len(t, lines, 7)
	assert.Equal(t, "RERUN   t::a  0.00s  attempt 1  Evicted  pod p1", lines[0])
	assert.Equal(t, "RERUN   t::a  0.00s  attempt 2  pod p2", lines[1], "the test's own retry is still there")
	assert.Equal(t, "FLAKY   t::a  0.00s  attempt 3", lines[2])
	assert.Equal(t, "RERUN   t::b  0.00s  attempt 1  PodDeleted  pod p4", lines[3])
	assert.Equal(t, "PASSED  t::b  0.00s  attempt 2", lines[4], "not flaky")
	assert.Equal(t, "RERUN   t::c  0.00s  attempt 1  Preempted  pod p6", lines[5])
	assert.Equal(t, "ERROR   t::c  0.00s  attempt 2  Preempted  pod p7", lines[6], "infra retries used up")
}
