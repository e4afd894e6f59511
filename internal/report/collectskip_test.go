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
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// pytest 7.2.1's JUnit entry for a module that called
// pytest.importorskip("no_such_module") at import.
const collectSkipJUnit = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="1" tests="1" time="0.054"><testcase classname="" name="tests.test_importorskip" file="tests/test_importorskip.py" time="0.000"><skipped message="collection skipped">('/w/tests/test_importorskip.py', 3, "Skipped: could not import 'no_such_module': No module named 'no_such_module'")</skipped></testcase></testsuite></testsuites>`

func TestSkippedAtCollection(t *testing.T) {
	ts, err := junit.Parse(strings.NewReader(collectSkipJUnit))
	require.NoError(t, err)
	skipped := SkippedAtCollection(ts.Suites[0].Testcases, 0)
	require.Len(t, skipped, 1)
	assert.Equal(t, "tests/test_importorskip.py", skipped[0].Case.TestID)
	assert.Equal(t, testid.CaseID("tests/test_importorskip.py"), skipped[0].Case.ID)
	onSecond := SkippedAtCollection(ts.Suites[0].Testcases, 1)
	assert.Equal(t, 1, onSecond[0].Case.Base, "a matrix's second base")
	assert.Equal(t, testid.BaseCaseID("tests/test_importorskip.py", 1), onSecond[0].Case.ID)

	ran := CaseResult{
		Case: plan.Case{ID: "a", TestID: "tests/test_a.py::test_a"}, Status: plan.Passed, Final: true,
		Attempts: []attempt.Attempt{{Number: 1, Pod: "p1", Outcome: plan.Outcome{Status: plan.Passed}}},
	}
	rep := NewReport("r1", "reg/img@sha256:1", "sha256:1", time.Unix(0, 0), time.Second, append(skipped, ran))

	tcs := rep.JUnit().Suites[0].Testcases
	require.Len(t, tcs, 2)
	got := tcs[0]
	assert.Equal(t, "", got.Classname)
	assert.Equal(t, "tests.test_importorskip", got.Name)
	assert.Equal(t, "tests/test_importorskip.py", got.File)
	assert.Equal(t, 0, got.Line)
	require.NotNil(t, got.Skipped)
	assert.Equal(t, "collection skipped", got.Skipped.Message)
	assert.Equal(t, `('/w/tests/test_importorskip.py', 3, "Skipped: could not import 'no_such_module': No module named 'no_such_module'")`, got.Skipped.Text)
	assert.Nil(t, got.Failure)
	assert.Nil(t, got.Error)
	_, hasPod := got.Property(junit.PropertyPod)
	assert.False(t, hasPod, "ran in no pod")
	_, hasAttempt := got.Property(junit.PropertyAttempt)
	assert.False(t, hasAttempt)

	assert.Equal(t, Counts{Total: 2, Passed: 1, Skipped: 1}, rep.Counts())
	assert.Equal(t, 0, rep.ExitCode(0, 1, 2), "a skipped module fails nothing")

	var b bytes.Buffer
	require.NoError(t, rep.WriteJUnit(&b))
	assert.Contains(t, b.String(), `tests="2" failures="0" errors="0" skipped="1"`)

	cases := rep.SummaryCases()
	require.Len(t, cases, 2)
	assert.Equal(t, "tests/test_importorskip.py", cases[0].TestID)
	assert.Equal(t, junit.StatusSkipped, cases[0].Status)
	assert.Equal(t, "collection skipped", cases[0].Message)
	s := Count(cases)
	assert.Equal(t, 1, s.Skipped)
	assert.Equal(t, 1, s.Passed)

	var text bytes.Buffer
	rep.PrintSummary(&text)
	assert.Contains(t, text.String(), "1 passed, 1 skipped")
}
