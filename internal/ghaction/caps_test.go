package ghaction

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// hugeFailure is a test that failed with a 4 MiB message: one long line
// and then many short ones.
func hugeFailure() Test {
	msg := "AssertionError: " + strings.Repeat("A", 2<<20) + "\n" + strings.Repeat("E   more\n", 200_000)
	return Test{Case: report.Case{TestID: "tests/test_big.py::test_big", Status: junit.StatusFailed, Message: msg, File: "tests/test_big.py", Line: 3},
		Path: "tests/test_big.py", FailLine: 3, Details: msg, Ran: true}
}

func TestOneFailureIsCappedInTheSummary(t *testing.T) {
	s := Summary{Tests: []Test{hugeFailure()}, Counts: report.Counts{Total: 1, Failed: 1}}
	md := s.Markdown(MaxJobSummary)
	assert.Less(t, len(md), 16<<10, "one failure's part of the job summary")
	assert.Contains(t, md, "A… (")
	assert.Regexp(t, `… \d+ more lines in the JUnit report`, md)
}

func TestAnnotationMessagesAreCapped(t *testing.T) {
	an := Annotations([]Test{hugeFailure()})
	assert.Len(t, an, 1)
	assert.LessOrEqual(t, len(an[0].Message), 64<<10)
	assert.LessOrEqual(t, len(an[0].Details), 64<<10)
	assert.Regexp(t, `\[k8s-testrun cut \d+ bytes\]$`, an[0].Message)
}
