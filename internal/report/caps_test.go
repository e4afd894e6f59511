package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext/runnertest"
)

// TestTextCapsOneFailure: a failure with a 4 MiB message prints a few
// kilobytes, saying how much was left out.
func TestTextCapsOneFailure(t *testing.T) {
	msg := "AssertionError: " + strings.Repeat("A", 2<<20) + "\n" + strings.Repeat("E   more\n", 200_000)
	cases := []Case{{TestID: "tests/test_big.py::test_big", Status: junit.StatusFailed, Message: msg, Attempts: 1}}
	var buf bytes.Buffer
	require.NoError(t, Text(&buf, Count(cases), cases, Options{}))
	assert.Less(t, buf.Len(), 4<<10)
	assert.Contains(t, buf.String(), "A… (2096668 more bytes)")
	assert.Contains(t, buf.String(), "... 199996 more lines")
}

// TestTextDefusesWorkflowCommands: a message's lines never start a
// workflow command, even after a lone carriage return.
func TestTextDefusesWorkflowCommands(t *testing.T) {
	cases := []Case{{TestID: "tests/test_a.py::test_a", Status: junit.StatusFailed, Attempts: 1,
		Message: "boom\r::warning::pwned\n::add-mask::x\r\n  ::stop-commands::abc"}}
	var buf bytes.Buffer
	require.NoError(t, Text(&buf, Count(cases), cases, Options{}))
	for _, l := range runnertest.Lines(buf.String()) {
		assert.False(t, runnertest.LooksLikeCommand(l), "line %q", l)
	}
	assert.Contains(t, buf.String(), `\::warning::pwned`)
}
