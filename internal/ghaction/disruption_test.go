package ghaction

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

func TestSummaryListsInfrastructureRetries(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	rep := report.NewReport("run1", "img", "", t0, time.Minute, []report.CaseResult{{
		Case: plan.Case{ID: "a", TestID: "tests/test_x.py::test_a"}, Status: plan.Passed, Final: true,
		Attempts: []attempt.Attempt{
			{Number: 1, Pod: "pod-1", Started: t0, Finished: t0.Add(2 * time.Second), Outcome: plan.Outcome{Status: plan.Error, ExitCode: -1, Reason: plan.ReasonPodDeleted, Message: "deleted"}},
			{Number: 2, Pod: "pod-2", Started: t0.Add(5 * time.Second), Finished: t0.Add(6 * time.Second), Outcome: plan.Outcome{Status: plan.Passed}},
		},
	}})
	md := Summary{Counts: rep.Counts(), Tests: Tests(rep, "")}.Markdown(MaxJobSummary)
	assert.Contains(t, md, "#### Infrastructure retries")
	assert.Contains(t, md, "| `tests/test_x.py::test_a` | 1 | `PodDeleted` | `2026-03-01T10:00:00.000Z` | `2026-03-01T10:00:02.000Z` | `pod-1` |")
	assert.Contains(t, md, "| 🔁 Flaky | 0 |", "a disruption does not make a test flaky")
	assert.NotContains(t, md, "#### Flaky")
}
