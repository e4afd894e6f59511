package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

func TestPodOverheadIsTheMeanTimeOutsideTests(t *testing.T) {
	ran := func(id, pod string, tl attempt.Timeline) report.CaseResult {
		return report.CaseResult{Case: plan.Case{ID: id, TestID: "t.py::" + id}, Status: plan.Passed, Final: true,
			Attempts: []attempt.Attempt{{Number: 1, Pod: pod, Outcome: plan.Outcome{Status: plan.Passed}, Timeline: tl}}}
	}
	shared := podLife(t0, time.Second, 2*time.Second, 6*time.Second, time.Second)
	rep := report.NewReport("r1", "img", "", t0, 20*time.Second, []report.CaseResult{
		ran("slow", "pod-1", podLife(t0, time.Second, 3*time.Second, 15*time.Second, time.Second)),
		ran("a", "pod-2", shared),
		ran("b", "pod-2", shared),
	})
	// pod-1: 1+3+1 outside its test, pod-2 (counted once): 1+2+1.
	assert.Equal(t, 4500*time.Millisecond, podOverhead(rep))
	assert.Zero(t, podOverhead(report.NewReport("r2", "img", "", t0, 0, nil)), "no pod, no figure")
}
