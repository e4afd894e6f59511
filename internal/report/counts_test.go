package report

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func TestCountsAdd(t *testing.T) {
	var c Counts
	for _, tl := range []Tally{
		{Status: plan.Passed},
		{Status: plan.Passed, Flaky: true},
		{Status: plan.Failed},
		{Status: plan.Error},
		{Status: plan.Error, Infra: true},
		{Status: plan.Skipped},
		{NotRun: true},
		{NotRun: true, Stopped: true},
		{Status: plan.Failed, Quarantined: true},
		{Status: plan.Failed, Infra: true},
	} {
		c.Add(tl)
	}
	assert.Equal(t, Counts{Total: 10, Passed: 2, Flaky: 1, Failed: 2, Errors: 2, Infra: 1, Skipped: 1, NotRun: 2, Stopped: 1, Quarantined: 1}, c)
}
