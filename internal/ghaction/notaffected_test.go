package ghaction

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// TestNotAffectedCountApart: the tests --affected-since left out are
// skipped in JUnit, but every summary counts them in a column of their
// own, apart from the tests pytest skipped: the report's counts, the
// terminal's closing line, the check run's title and the job summary.
func TestNotAffectedCountApart(t *testing.T) {
	skip := func(name, msg string) junit.Testcase {
		return junit.Testcase{Classname: "tests.t", Name: name, File: "tests/t.py", Time: "0", Skipped: &junit.Result{Message: msg}}
	}
	left := func(id string) report.CaseResult {
		cr := caseResult(id, plan.Skipped, skip(id, "not affected since abc: last passed at abc"), 1)
		cr.NotAffected = "abc"
		return cr
	}
	rep := report.NewReport("r", "img", "", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Minute, []report.CaseResult{
		caseResult("tests/t.py::test_ran", plan.Passed, junit.Testcase{Classname: "tests.t", Name: "test_ran", File: "tests/t.py", Time: "0.1"}, 1),
		caseResult("tests/t.py::test_skip", plan.Skipped, skip("test_skip", "no database"), 1),
		left("tests/t.py::test_left_a"), left("tests/t.py::test_left_b"),
	})
	c := rep.Counts()
	assert.Equal(t, 4, c.Total)
	assert.Equal(t, 1, c.Skipped, "pytest's skip only")
	assert.Equal(t, 2, c.NotAffected)

	var text bytes.Buffer
	cases := rep.SummaryCases()
	require.NoError(t, report.Text(&text, report.Count(cases), cases, report.Options{}))
	assert.Contains(t, text.String(), "1 passed, 1 skipped, 2 not affected")
	assert.Contains(t, text.String(), "wall time 0s for 2 tests", "the tests left out did not run")

	s := Summary{Counts: c, Wall: rep.Wall, Tests: Tests(rep, "")}
	assert.Equal(t, "1 passed, 1 skipped, 2 not affected in 1m0s", s.Title())
	md := s.Markdown(MaxJobSummary)
	assert.Contains(t, md, "| ⏭️ Skipped | 1 |\n")
	assert.Contains(t, md, "| 💤 Not affected | 2 |\n")
}
