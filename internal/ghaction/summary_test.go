package ghaction

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/github"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// caseResult is a case whose single attempt pytest reported as tc.
func caseResult(id string, st plan.Status, tc junit.Testcase, attempts int) report.CaseResult {
	cr := report.CaseResult{Case: plan.Case{ID: id, TestID: id}, Status: st, Final: true}
	for n := 1; n <= attempts; n++ {
		tc := tc
		cr.Attempts = append(cr.Attempts, attempt.Attempt{
			Number: n, Pod: fmt.Sprintf("pod-%d", n), Outcome: plan.Outcome{Status: st},
			Results: attempt.Results{Testcase: &tc},
		})
	}
	return cr
}

func sampleReport() *report.Report {
	failed := junit.Testcase{Classname: "tests.test_basic", Name: "test_fails", File: "tests/test_basic.py", Line: 8, Time: "0.120",
		Failure: &junit.Result{Message: "AssertionError: expected three apples\nassert 1 == 3", Text: "def test_fails():\n>  assert value == 3\nE  AssertionError\n\ntests/test_basic.py:10: AssertionError"}}
	errored := junit.Testcase{Classname: "tests.test_fixtures", Name: "test_broken", File: "tests/test_fixtures.py", Line: 9, Time: "0.010",
		Error: &junit.Result{Message: `failed on setup with "RuntimeError: database unavailable"`, Text: "    raise RuntimeError\nE   RuntimeError: database unavailable\n\ntests/test_fixtures.py:6: RuntimeError"}}
	passed := junit.Testcase{Classname: "tests.test_basic", Name: "test_passes", File: "tests/test_basic.py", Line: 4, Time: "2.500"}
	skipped := junit.Testcase{Classname: "tests.test_basic", Name: "test_skipped", File: "tests/test_basic.py", Line: 13, Time: "0.001",
		Skipped: &junit.Result{Message: "not on this platform"}}
	flaky := caseResult("tests/test_flaky.py::test_sometimes", plan.Passed, junit.Testcase{Classname: "tests.test_flaky", Name: "test_sometimes", File: "tests/test_flaky.py", Line: 3, Time: "1.000"}, 2)
	flaky.Flaky = true
	return report.NewReport("run1", "localhost:5001/x@sha256:abc", "sha256:abc", time.Unix(0, 0), 23*time.Second, []report.CaseResult{
		caseResult("tests/test_basic.py::test_fails", plan.Failed, failed, 1),
		caseResult("tests/test_fixtures.py::test_broken", plan.Error, errored, 1),
		caseResult("tests/test_basic.py::test_passes", plan.Passed, passed, 1),
		caseResult("tests/test_basic.py::test_skipped", plan.Skipped, skipped, 1),
		flaky,
		{Case: plan.Case{ID: "n", TestID: "tests/test_slow.py::test_never"}},
	})
}

func sampleSummary() Summary {
	rep := sampleReport()
	return Summary{
		Counts: rep.Counts(), Wall: rep.Wall, Tests: Tests(rep, "pkg"),
		CheckName: "k8s-testrun", CheckURL: "https://github.example/o/r/runs/7", Image: rep.Image, JUnitPath: "k8s-testrun-junit.xml",
		Context: Context{Repository: "o/r", HeadSHA: "abc123", ServerURL: "https://github.example"},
	}
}

func TestSummaryMarkdown(t *testing.T) {
	md := sampleSummary().Markdown(MaxJobSummary)
	for _, want := range []string{
		"### ❌ k8s-testrun: 1 failed, 2 passed, 1 skipped, 1 error, 1 flaky, 1 not run in 23s\n",
		"| ✅ Passed | 2 |\n| ❌ Failed | 1 |\n| 💥 Errors | 1 |\n| ⏭️ Skipped | 1 |\n| 🔁 Flaky | 1 |\n| ⏹️ Not run | 1 |\n| **Total** | **6** |\n",
		"**Check run:** [k8s-testrun](https://github.example/o/r/runs/7)",
		"**JUnit:** `k8s-testrun-junit.xml`",
		"#### Failures and errors (2)",
		"❌ **`tests/test_basic.py::test_fails`** at [`pkg/tests/test_basic.py:10`](https://github.example/o/r/blob/abc123/pkg/tests/test_basic.py#L10)\n\n```text\nAssertionError: expected three apples\nassert 1 == 3\n```\n",
		"💥 **`tests/test_fixtures.py::test_broken`** at [`pkg/tests/test_fixtures.py:6`]",
		"#### Flaky (1)",
		"| `tests/test_flaky.py::test_sometimes` | 2 | [`pkg/tests/test_flaky.py:3`](https://github.example/o/r/blob/abc123/pkg/tests/test_flaky.py#L3) |",
		"#### Slowest 5\n\n| Duration | Test |\n| --: | :-- |\n| 2.5s | `tests/test_basic.py::test_passes` |\n| 1s | `tests/test_flaky.py::test_sometimes` |",
	} {
		assert.Contains(t, md, want)
	}
	assert.NotContains(t, md, "test_never`**", "a test that never ran is counted, not listed as a failure")
	assert.NotContains(t, md, "Trimmed")
}

func TestSummaryStates(t *testing.T) {
	tests := []struct {
		name  string
		s     Summary
		title string
		want  []string
	}{
		{"all passed", Summary{Counts: report.Counts{Total: 3, Passed: 3}, Wall: time.Second}, "3 passed in 1s", []string{"### ✅ k8s-testrun: 3 passed in 1s"}},
		{"could not run", Summary{Problem: "building the test image: registry r.example is unreachable"}, "could not run the tests",
			[]string{"### ⚠️ k8s-testrun: could not run the tests", "> [!CAUTION]\n> building the test image: registry r.example is unreachable"}},
		{"cancelled", Summary{Cancelled: true, Counts: report.Counts{Total: 3, Passed: 1, NotRun: 2}, Wall: 5 * time.Second}, "cancelled: 1 passed, 2 not run in 5s",
			[]string{"### ⏹️ k8s-testrun: cancelled", "> [!WARNING]\n> The workflow was cancelled"}},
		{"fork", Summary{Counts: report.Counts{Total: 1, Passed: 1}, Notes: []string{"No check run: this pull request comes from a fork"}}, "1 passed in 0s",
			[]string{"> [!NOTE]\n> No check run: this pull request comes from a fork"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.title, tt.s.Title())
			md := tt.s.Markdown(MaxJobSummary)
			for _, w := range tt.want {
				assert.Contains(t, md, w)
			}
		})
	}
}

// TestSummaryStaysWithinTheLimit: with thousands of failures, the summary
// keeps within the limit, ends with a note, and leaves out whole entries.
func TestSummaryStaysWithinTheLimit(t *testing.T) {
	var cases []report.CaseResult
	for i := range 5000 {
		id := fmt.Sprintf("tests/test_many.py::test_%04d", i)
		cases = append(cases, caseResult(id, plan.Failed, junit.Testcase{Classname: "tests.test_many", Name: fmt.Sprintf("test_%04d", i), File: "tests/test_many.py", Line: i + 1,
			Failure: &junit.Result{Message: strings.Repeat("x", 400) + "\n" + strings.Repeat("y", 400)}}, 1))
	}
	rep := report.NewReport("r", "img", "", time.Now(), time.Minute, cases)
	s := Summary{Counts: rep.Counts(), Tests: Tests(rep, ""), JUnitPath: "junit.xml"}
	for _, limit := range []int{MaxJobSummary, github.MaxSummary} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			md := s.Markdown(limit)
			assert.LessOrEqual(t, len(md), limit)
			assert.Greater(t, len(md), limit/2, "the room is used")
			shown := strings.Count(md, "❌ **`tests/test_many.py::")
			assert.Regexp(t, fmt.Sprintf(`> Trimmed to stay within GitHub's limit of %d bytes: %d failures and errors not shown. The JUnit report \(`+"`junit.xml`"+`\) has every test.\n$`, limit, 5000-shown), md)
			assert.Equal(t, 0, strings.Count(md, "```")%2, "no code fence left open")
		})
	}
}

func TestCodeSpans(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tests/a.py::test", "`tests/a.py::test`"},
		{"a`b", "``a`b``"},
		{"`a", "`` `a ``"},
		{"x\ny", "`x y`"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, code(tt.in))
	}
	assert.Equal(t, "`a\\|b`", cell("a|b"))
	assert.Equal(t, "````", fence("a ``` b"))
	assert.Equal(t, "```", fence("plain"))
}
