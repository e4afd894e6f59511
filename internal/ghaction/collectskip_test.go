package ghaction

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// A module pytest skipped at collection is a skipped test of the job
// summary, the check run and the step outputs, as in pytest's "N skipped",
// and no annotation.
func TestSkippedModuleInSummaryAndOutputs(t *testing.T) {
	module := junit.Testcase{Classname: "", Name: "tests.test_importorskip", File: "tests/test_importorskip.py", Time: "0.000",
		Skipped: &junit.Result{Message: "collection skipped", Text: `('/workspace/tests/test_importorskip.py', 3, "Skipped: could not import 'no_such_module': No module named 'no_such_module'")`}}
	passed := junit.Testcase{Classname: "tests.test_a", Name: "test_a", File: "tests/test_a.py", Line: 1, Time: "0.100"}
	cases := append(report.SkippedAtCollection([]junit.Testcase{module}, 0),
		caseResult("tests/test_a.py::test_a", plan.Passed, passed, 1))
	rep := report.NewReport("run1", "img", "", time.Unix(0, 0), 2*time.Second, cases)

	tests := Tests(rep, "pkg")
	require.Len(t, tests, 2)
	assert.Equal(t, "tests/test_importorskip.py", tests[0].TestID)
	assert.Equal(t, "pkg/tests/test_importorskip.py", tests[0].Path)
	assert.Equal(t, junit.StatusSkipped, tests[0].Status)
	assert.False(t, tests[0].Problem())
	assert.Empty(t, Annotations(tests))

	s := Summary{Counts: rep.Counts(), Wall: rep.Wall, Tests: tests}
	assert.Equal(t, "1 passed, 1 skipped in 2s", s.Title())
	md := s.Markdown(MaxJobSummary)
	assert.Contains(t, md, "| ⏭️ Skipped | 1 |\n")
	assert.Contains(t, md, "| **Total** | **2** |\n")

	outs := map[string]string{}
	for _, o := range StepOutputs(rep, "junit.xml", "img", "") {
		outs[o.Name] = o.Value
	}
	assert.Equal(t, "2", outs["total"])
	assert.Equal(t, "1", outs["skipped"])
	assert.Equal(t, "1", outs["passed"])
}
