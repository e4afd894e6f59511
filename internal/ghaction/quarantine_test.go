package ghaction

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/github"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// TestQuarantinedInSummaryAndAnnotations: an excused failure is a warning
// annotation, a row of its own in the summary's counts and a section of
// its own, not a failure; the check's title counts it apart.
func TestQuarantinedInSummaryAndAnnotations(t *testing.T) {
	l, err := quarantine.Parse([]byte("quarantine:\n- {test: 'tests/t.py::test_q*', until: 2026-12-31, reason: 'known bug #7', owner: '@alice'}\n"), "q.yaml")
	require.NoError(t, err)
	fail := func(name string) junit.Testcase {
		return junit.Testcase{Classname: "tests.t", Name: name, File: "tests/t.py", Line: 3, Time: "0.5",
			Failure: &junit.Result{Message: "assert 1 == 2", Text: "tests/t.py:4: AssertionError"}}
	}
	rep := report.NewReport("r", "img", "", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Minute, []report.CaseResult{
		caseResult("tests/t.py::test_quarantined", plan.Failed, fail("test_quarantined"), 1),
		caseResult("tests/t.py::test_real", plan.Failed, fail("test_real"), 1),
	})
	rep.Quarantine = l
	tests := Tests(rep, "")
	ans := Annotations(tests)
	require.Len(t, ans, 2)
	byTitle := map[string]github.Annotation{}
	for _, a := range ans {
		byTitle[a.Title] = a
	}
	q, ok := byTitle["QUARANTINED FAILED tests/t.py::test_quarantined"]
	require.True(t, ok, "%v", ans)
	assert.Equal(t, github.LevelWarning, q.Level)
	assert.True(t, strings.HasPrefix(q.Message, "Quarantined: known bug #7 (until 2026-12-31, owner @alice)\n"), q.Message)
	assert.Equal(t, github.LevelFailure, byTitle["FAILED tests/t.py::test_real"].Level)

	s := Summary{Counts: rep.Counts(), Wall: rep.Wall, Tests: tests}
	assert.Equal(t, "1 failed, 1 quarantined in 1m0s", s.Title())
	md := s.Markdown(MaxJobSummary)
	assert.Contains(t, md, "| 🔒 Quarantined | 1 |\n")
	assert.Contains(t, md, "| ❌ Failed | 1 |\n")
	assert.Contains(t, md, "#### Failures and errors (1)")
	assert.Contains(t, md, "#### Quarantined (1)\n\n| Test | Result | Quarantine |\n| :-- | :-- | :-- |\n"+
		"| `tests/t.py::test_quarantined` | failed | `known bug #7 (until 2026-12-31, owner @alice)` |\n")

	// With only the quarantined failure, the run is green.
	rep.Cases = rep.Cases[:1]
	s = Summary{Counts: rep.Counts(), Wall: rep.Wall, Tests: Tests(rep, "")}
	assert.True(t, strings.HasPrefix(s.Markdown(MaxJobSummary), "### ✅ k8s-testrun: 1 quarantined in 1m0s"), s.Markdown(MaxJobSummary))
}
