package report

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func TestReportNamesEachTestsLane(t *testing.T) {
	rep := retriedReport()
	for _, tc := range rep.JUnit().Suites[0].Testcases {
		_, ok := tc.Property(junit.PropertyLane)
		assert.False(t, ok, "a run without lanes names none")
	}
	rep.Cases[1].Case.Lane = plan.LaneSerial
	tcs := rep.JUnit().Suites[0].Testcases
	lane, _ := tcs[0].Property(junit.PropertyLane)
	assert.Equal(t, "default", lane)
	lane, _ = tcs[1].Property(junit.PropertyLane)
	assert.Equal(t, "serial", lane)

	var out bytes.Buffer
	rep.PrintSummary(&out)
	assert.Contains(t, out.String(), "serial: 1 passed (1 test)\n")
	assert.Contains(t, out.String(), "default: 1 passed, 1 not run (2 tests)\n")
}
