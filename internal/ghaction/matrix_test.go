package ghaction

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// matrixReport is a run of three tests on two bases: test_old fails on
// Python 3.13 only, test_fails fails on both, test_ok passes on both.
func matrixReport() *report.Report {
	var cases []report.CaseResult
	for b, failing := range [][]string{{"test_fails"}, {"test_fails", "test_old"}} {
		for _, name := range []string{"test_ok", "test_old", "test_fails"} {
			id := "tests/test_v.py::" + name
			tc := junit.Testcase{Classname: "tests.test_v", Name: name, File: "tests/test_v.py", Line: 3, Time: "0.010"}
			st := plan.Passed
			for _, f := range failing {
				if f == name {
					st = plan.Failed
					tc.Failure = &junit.Result{Message: "assert False"}
				}
			}
			cr := caseResult(id, st, tc, 1)
			cr.Case = plan.Case{ID: testid.BaseCaseID(id, b), TestID: id, Base: b}
			cases = append(cases, cr)
		}
	}
	rep := report.NewReport("run1", "reg/t@sha256:a", "sha256:a", time.Unix(0, 0), 9*time.Second, cases)
	rep.Bases = []report.Base{
		{Ref: "python:3.11-slim", Image: "reg/t@sha256:a", Digest: "sha256:a", Python: "3.11.2", Pytest: "7.2.1"},
		{Ref: "python:3.13-slim", Image: "reg/t@sha256:b", Digest: "sha256:b", Python: "3.13.5", Pytest: "8.3.5"},
	}
	return rep
}

func TestMatrixAnnotationsOnePerFailurePerBase(t *testing.T) {
	var titles []string
	for _, a := range Annotations(Tests(matrixReport(), "")) {
		titles = append(titles, a.Title)
	}
	assert.ElementsMatch(t, []string{
		"FAILED tests/test_v.py::test_fails [Python 3.11]",
		"FAILED tests/test_v.py::test_fails [Python 3.13]",
		"FAILED tests/test_v.py::test_old [Python 3.13]",
	}, titles)
}

func TestMatrixSummary(t *testing.T) {
	rep := matrixReport()
	s := Summary{Counts: rep.Counts(), Wall: rep.Wall, Tests: Tests(rep, ""), Bases: rep.BaseLabels()}
	md := s.Markdown(MaxJobSummary)
	assert.Contains(t, md, "#### Runtime matrix")
	assert.Contains(t, md, "| `Python 3.11` | 2 | 1 | 0 | 0 | 0 | 3 |")
	assert.Contains(t, md, "| `Python 3.13` | 1 | 2 | 0 | 0 | 0 | 3 |")
	assert.Contains(t, md, "1 test whose verdict differs between bases:")
	assert.Contains(t, md, "| `tests/test_v.py::test_old` | ✅ passed | ❌ failed |")
	assert.NotContains(t, md, "| `tests/test_v.py::test_fails` | ❌", "a test that fails everywhere has one verdict: no row")
	assert.Contains(t, md, "**`tests/test_v.py::test_old`** at `tests/test_v.py:3` · Python 3.13")

	one := sampleReport()
	plain := Summary{Counts: one.Counts(), Tests: Tests(one, ""), Bases: one.BaseLabels()}.Markdown(MaxJobSummary)
	assert.NotContains(t, plain, "Runtime matrix", "a run of one base has no matrix")
}

func TestMatrixSummaryBoundsItsRows(t *testing.T) {
	var tests []Test
	for i := range maxMatrixRows + 5 {
		for b, base := range []string{"Python 3.11", "Python 3.13"} {
			c := Test{Ran: true}
			c.TestID = "t.py::test_" + strings.Repeat("x", i+1)
			c.Base = base
			c.Status = junit.StatusPassed
			if b == 1 {
				c.Status = junit.StatusFailed
			}
			tests = append(tests, c)
		}
	}
	md := Summary{Tests: tests, Bases: []string{"Python 3.11", "Python 3.13"}}.Markdown(MaxJobSummary)
	assert.Equal(t, maxMatrixRows, strings.Count(md, "| ✅ passed | ❌ failed |"))
	assert.Contains(t, md, "| … 5 more, in the JUnit report | |")
	assert.Contains(t, md, "#### Failures and errors", "the failures keep their room")
}

func TestMatrixOutput(t *testing.T) {
	var got string
	for _, o := range StepOutputs(matrixReport(), "junit.xml", "", "") {
		if o.Name == "matrix" {
			got = o.Value
		}
	}
	var counts []map[string]any
	require.NoError(t, json.Unmarshal([]byte(got), &counts), got)
	require.Len(t, counts, 2)
	assert.Equal(t, map[string]any{"base": "python:3.11-slim", "image": "reg/t@sha256:a", "python": "3.11.2", "total": 3.0, "passed": 2.0, "failed": 1.0,
		"errors": 0.0, "skipped": 0.0, "flaky": 0.0, "not_run": 0.0}, counts[0])
	assert.Equal(t, 2.0, counts[1]["failed"])
}
