package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func TestJUnitCarriesAPIEndpointCount(t *testing.T) {
	ran := func(id string) CaseResult {
		return CaseResult{Case: plan.Case{ID: id, TestID: id}, Status: plan.Passed, Final: true,
			Attempts: []attempt.Attempt{{Number: 1, Pod: "p-" + id, Outcome: plan.Outcome{Status: plan.Passed}}}}
	}
	rep := NewReport("r", "img", "", time.Unix(0, 0), time.Second, []CaseResult{ran("t.py::a"), ran("t.py::b"), ran("t.py::c")})
	rep.APICoverage = &apicov.Report{Tests: []apicov.TestCoverage{
		{Test: "t.py::a", Endpoints: map[string]int64{"GET /api/": 1, "GET /apis/": 2, "GET /version/": 1}},
		{Test: "t.py::b", Endpoints: map[string]int64{}},
	}}
	tcs := rep.Testcases()
	require.Len(t, tcs, 3)
	v, ok := tcs[0].Property(apicov.PropertyEndpoints)
	assert.True(t, ok)
	assert.Equal(t, "3", v)
	v, ok = tcs[1].Property(apicov.PropertyEndpoints)
	assert.True(t, ok, "a test that called nothing says so")
	assert.Equal(t, "0", v)
	_, ok = tcs[2].Property(apicov.PropertyEndpoints)
	assert.False(t, ok, "a test without a measure has no count")

	rep.APICoverage = nil
	_, ok = rep.Testcases()[0].Property(apicov.PropertyEndpoints)
	assert.False(t, ok, "no property without --api-coverage")
}
