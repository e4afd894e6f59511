package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext/runnertest"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
)

const quarantineFile = `
quarantine:
  - test: tests/test_q.py::*
    until: 2026-12-31
    reason: "known bug #12"
    owner: "@alice"
  - test: tests/test_old.py::test_fails
    until: 2026-11-30
    reason: long gone
`

func quarantineReport(t *testing.T, started time.Time, cases ...CaseResult) *Report {
	t.Helper()
	l, err := quarantine.Parse([]byte(quarantineFile), "q.yaml")
	require.NoError(t, err)
	rep := NewReport("r", "img", "", started, time.Second, cases)
	rep.Quarantine = l
	return rep
}

func ended(id string, s plan.Status, reason string) CaseResult {
	return CaseResult{Case: plan.Case{ID: id, TestID: id}, Status: s, Final: true,
		Attempts: []attempt.Attempt{{Number: 1, Pod: "p-" + id, Outcome: plan.Outcome{Status: s, Reason: reason, Message: "boom"}}}}
}

func TestQuarantineCountsApart(t *testing.T) {
	dec1 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	cases := []CaseResult{
		ended("tests/test_q.py::test_fails", plan.Failed, ""),
		ended("tests/test_q.py::test_errors", plan.Error, ""),
		ended("tests/test_q.py::test_passes", plan.Passed, ""),
		ended("tests/test_a.py::test_ok", plan.Passed, ""),
	}
	rep := quarantineReport(t, dec1, cases...)
	c := rep.Counts()
	assert.Equal(t, 2, c.Quarantined)
	assert.Equal(t, 0, c.Failed)
	assert.Equal(t, 0, c.Errors)
	assert.Equal(t, 2, c.Passed, "a quarantined test that passes is a pass")
	assert.Equal(t, 0, rep.ExitCode(0, 1, 2), "excused failures do not fail the run")

	// Without the quarantine, the same results fail it.
	bare := NewReport("r", "img", "", dec1, time.Second, cases)
	assert.Equal(t, 1, bare.ExitCode(0, 1, 2))

	// A failure the quarantine does not name still fails the run.
	rep = quarantineReport(t, dec1, append(cases, ended("tests/test_a.py::test_bad", plan.Failed, ""))...)
	assert.Equal(t, 1, rep.ExitCode(0, 1, 2))
	assert.Equal(t, 1, rep.Counts().Failed)
	assert.Equal(t, 2, rep.Counts().Quarantined)

	// Past its date, the entry excuses nothing: the failure counts again,
	// and the entry is reported expired. "until 2026-12-31" holds through
	// that day, UTC.
	last := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	assert.Equal(t, 0, quarantineReport(t, last, cases...).ExitCode(0, 1, 2))
	jan1 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	rep = quarantineReport(t, jan1, cases...)
	assert.Equal(t, 1, rep.ExitCode(0, 1, 2))
	assert.Equal(t, 0, rep.Counts().Quarantined)
	assert.Equal(t, 1, rep.Counts().Failed)
	assert.Len(t, rep.ExpiredQuarantine(), 2)
	assert.Contains(t, rep.ExpiredQuarantine()[0], `q.yaml: entry 1 (test "tests/test_q.py::*"): quarantine expired after 2026-12-31`)
	assert.Equal(t, []string{`q.yaml: entry 2 (test "tests/test_old.py::test_fails"): quarantine expired after 2026-11-30, so its failures count again; fix the test, or move until forward with a reason`},
		quarantineReport(t, dec1).ExpiredQuarantine())
}

func TestQuarantineInJUnitAndSummary(t *testing.T) {
	dec1 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rep := quarantineReport(t, dec1,
		ended("tests/test_q.py::test_fails", plan.Failed, ""),
		ended("tests/test_a.py::test_bad", plan.Failed, ""),
		ended("tests/test_q.py::test_passes", plan.Passed, ""),
	)
	tcs := rep.Testcases()
	// Still failed in JUnit, with the quarantine named.
	assert.Equal(t, junit.StatusFailed, tcs[0].Status())
	assert.Contains(t, tcs[0].Properties, junit.Property{Name: PropertyQuarantined, Value: "known bug #12 (until 2026-12-31, owner @alice)"})
	for _, tc := range tcs[1:] {
		for _, p := range tc.Properties {
			assert.NotEqual(t, PropertyQuarantined, p.Name, tc.Name)
		}
	}
	var xml bytes.Buffer
	require.NoError(t, rep.WriteJUnit(&xml))
	assert.Contains(t, xml.String(), `<property name="k8s-testrun.quarantined" value="known bug #12 (until 2026-12-31, owner @alice)">`)

	cases := rep.SummaryCases()
	assert.Equal(t, "known bug #12 (until 2026-12-31, owner @alice)", cases[0].Quarantined)
	assert.Empty(t, cases[1].Quarantined)
	assert.Empty(t, cases[2].Quarantined)

	var out strings.Builder
	rep.PrintSummary(&out)
	text := out.String()
	assert.Contains(t, text, "quarantined (their failures do not fail the run)")
	assert.Contains(t, text, "    quarantined: known bug #12 (until 2026-12-31, owner @alice)\n")
	assert.Contains(t, text, "1 failed, 1 passed, 1 quarantined in")
	// Listed under quarantined, not among the failures.
	fails := strings.Index(text, "failures and errors")
	quar := strings.Index(text, "quarantined (their")
	require.Greater(t, quar, fails)
	assert.NotContains(t, text[fails:quar], "tests/test_q.py::test_fails")
}

// The quarantine file is the project's: its words reach the terminal, a CI
// log, defused (no workflow command, no line break, no escape sequence).
func TestQuarantineTextIsDefused(t *testing.T) {
	l, err := quarantine.Parse([]byte("quarantine:\n- test: 't.py::*'\n  until: 2026-12-31\n  reason: \"x\\n::error::pwned ##[group]g \\e[31mred\"\n"), "q.yaml")
	require.NoError(t, err)
	rep := NewReport("r", "img", "", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Second, []CaseResult{ended("t.py::a", plan.Failed, "")})
	rep.Quarantine = l
	var out strings.Builder
	rep.PrintSummary(&out)
	for _, line := range strings.Split(out.String(), "\n") {
		assert.False(t, runnertest.LooksLikeCommand(line), "%q", line)
		assert.NotContains(t, line, "\x1b")
	}
	assert.Contains(t, out.String(), "    quarantined: x; \\::error::pwned ##\\[group]g ?[31mred (until 2026-12-31)\n")
}
