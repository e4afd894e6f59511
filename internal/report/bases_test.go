package report

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

func matrixCases(bases int, ids ...string) []CaseResult {
	var out []CaseResult
	for b := range bases {
		for _, id := range ids {
			out = append(out, CaseResult{
				Case: plan.Case{ID: testid.BaseCaseID(id, b), TestID: id, Base: b}, Status: plan.Passed, Final: true,
				Attempts: []attempt.Attempt{{Number: 1, Outcome: plan.Outcome{Status: plan.Passed}}},
			})
		}
	}
	return out
}

func TestMatrixJUnitHasASuitePerBase(t *testing.T) {
	rep := NewReport("r1", "reg/t@sha256:a", "sha256:a", time.Unix(0, 0), time.Second, matrixCases(2, "t.py::a", "t.py::b"))
	rep.Cases[3].Status = plan.Failed
	rep.Cases[3].Attempts[0].Outcome = plan.Outcome{Status: plan.Failed, ExitCode: 1}
	rep.Bases = []Base{
		{Ref: "deb:bookworm", Image: "reg/t@sha256:a", Digest: "sha256:a", Python: "3.11.2", Pytest: "7.2.1"},
		{Ref: "deb:trixie", Image: "reg/t@sha256:b", Digest: "sha256:b", Python: "3.13.5", Pytest: "8.3.5"},
	}
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJUnit(&buf))
	ts, err := junit.Parse(&buf)
	require.NoError(t, err)
	require.Len(t, ts.Suites, 2)
	assert.Equal(t, "deb:bookworm (Python 3.11.2, pytest 7.2.1)", ts.Suites[0].Name)
	assert.Equal(t, "deb:trixie (Python 3.13.5, pytest 8.3.5)", ts.Suites[1].Name)
	for i, s := range ts.Suites {
		require.Len(t, s.Testcases, 2, s.Name)
		assert.Equal(t, rep.Bases[i].Image, propertyOf(s.Properties, "k8s-testrun.image"))
		assert.Equal(t, rep.Bases[i].Python, propertyOf(s.Properties, "k8s-testrun.python"))
		for _, tc := range s.Testcases {
			d, _ := tc.Property(junit.PropertyImageDigest)
			assert.Equal(t, rep.Bases[i].Digest, d, "%s: the digest of its base's image", tc.Name)
		}
	}
	assert.Nil(t, ts.Suites[0].Testcases[1].Failure)
	assert.NotNil(t, ts.Suites[1].Testcases[1].Failure, "the failure is the second base's")
	assert.Equal(t, []Counts{{Total: 2, Passed: 2}, {Total: 2, Passed: 1, Failed: 1}}, rep.BaseCounts())
	assert.Equal(t, 1, rep.ExitCode(0, 1, 2), "a failure on any base fails the run")

	// The testcases stay in the order of the cases, for the summaries.
	tcs := rep.Testcases()
	require.Len(t, tcs, 4)
	assert.NotNil(t, tcs[3].Failure)

	var text bytes.Buffer
	rep.PrintSummary(&text)
	assert.Contains(t, text.String(), "Python 3.13: 1 failed, 1 passed (2 tests)")
	assert.Contains(t, text.String(), "t.py::b  passed       FAILED")
}

func TestBaseLabels(t *testing.T) {
	rep := &Report{Bases: []Base{{Ref: "a", Python: "3.11.2"}, {Ref: "b", Python: "3.13.0"}}}
	assert.Equal(t, []string{"Python 3.11", "Python 3.13"}, rep.BaseLabels())
	rep = &Report{Bases: []Base{{Ref: "a", Python: "3.11.2"}, {Ref: "b", Python: "3.11.9"}, {Ref: "c"}}}
	assert.Equal(t, []string{"a", "b", "c"}, rep.BaseLabels(), "the base image where the Python version does not tell them apart")
	assert.Nil(t, (&Report{Bases: []Base{{Ref: "a", Python: "3.11.2"}}}).BaseLabels(), "one base is no matrix")

	one := NewReport("r1", "img", "sha256:a", time.Unix(0, 0), time.Second, matrixCases(1, "t.py::a"))
	assert.Len(t, one.JUnit().Suites, 1)
	assert.Equal(t, "k8s-testrun r1", one.JUnit().Suites[0].Name, "a run of one base keeps its one suite")
}

func propertyOf(props []junit.Property, name string) string {
	for _, p := range props {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func TestMatrixAttemptsNameTheBase(t *testing.T) {
	rep := NewReport("r1", "img", "sha256:a", time.Unix(0, 0), time.Second, matrixCases(2, "t.py::a"))
	rep.Bases = []Base{{Ref: "deb:bookworm"}, {Ref: "deb:trixie"}}
	var buf bytes.Buffer
	require.NoError(t, rep.WriteAttempts(&buf))
	assert.Contains(t, buf.String(), `"test":"t.py::a","base":"deb:bookworm"`)
	assert.Contains(t, buf.String(), `"test":"t.py::a","base":"deb:trixie"`)

	one := NewReport("r1", "img", "sha256:a", time.Unix(0, 0), time.Second, matrixCases(1, "t.py::a"))
	buf.Reset()
	require.NoError(t, one.WriteAttempts(&buf))
	assert.NotContains(t, buf.String(), `"base"`, "no base outside a matrix")
}
