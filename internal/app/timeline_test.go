package app

import (
	"html"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/timeline"
)

func TestChartOfOneBarPerPod(t *testing.T) {
	tl := podLife(t0, time.Second, 2*time.Second, 3*time.Second, time.Second)
	deleted := tl
	deleted.Deleted = tl.Collected.Add(time.Second)
	mkAttempt := func(n int, pod string, st plan.Status, reason string, tl attempt.Timeline) attempt.Attempt {
		return attempt.Attempt{Number: n, Pod: pod, Node: "node-1", Outcome: plan.Outcome{Status: st, Reason: reason}, Timeline: tl}
	}
	rep := report.NewReport("r1", "img", "", t0, time.Minute, []report.CaseResult{
		{Case: plan.Case{ID: "a", TestID: "t.py::a"}, Status: plan.Passed, Flaky: true, Attempts: []attempt.Attempt{
			mkAttempt(1, "pod-a-1", plan.Failed, "", tl), mkAttempt(2, "pod-a-2", plan.Passed, "", deleted),
		}},
		// Two tests of one pod, one of them failed: one bar, red.
		{Case: plan.Case{ID: "b", TestID: "t.py::C::b"}, Status: plan.Passed, Attempts: []attempt.Attempt{mkAttempt(1, "pod-unit", plan.Passed, "", tl)}},
		{Case: plan.Case{ID: "c", TestID: "t.py::C::c"}, Status: plan.Failed, Attempts: []attempt.Attempt{mkAttempt(1, "pod-unit", plan.Failed, "", tl)}},
		{Case: plan.Case{ID: "d", TestID: "t.py::d"}, Status: plan.Error, Attempts: []attempt.Attempt{mkAttempt(1, "pod-d", plan.Error, "OOMKilled", tl)}},
		{Case: plan.Case{ID: "e", TestID: "t.py::never"}},
	})
	c := chartOf(rep)
	require.Len(t, c.Bars, 4)
	byPod := map[string]timeline.Bar{}
	for _, b := range c.Bars {
		byPod[b.Pod] = b
	}
	assert.Equal(t, timeline.Failed, byPod["pod-a-1"].Verdict)
	assert.Equal(t, timeline.Flaky, byPod["pod-a-2"].Verdict, "the pass after a failure")
	assert.Equal(t, tl.Collected.Add(time.Second), byPod["pod-a-2"].End, "a deleted pod ends at its deletion")
	assert.Equal(t, tl.Collected, byPod["pod-a-1"].End)
	assert.Equal(t, []string{"t.py::C::b", "t.py::C::c"}, byPod["pod-unit"].Tests)
	assert.Equal(t, timeline.Failed, byPod["pod-unit"].Verdict)
	assert.Equal(t, "OOMKilled", byPod["pod-d"].Reason)
	assert.Equal(t, 7*time.Second, byPod["pod-d"].Duration())

	dir := t.TempDir()
	paths, err := writeTimeline(filepath.Join(dir, "junit.xml"), rep)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{filepath.Join(dir, "timeline.html"), filepath.Join(dir, "timeline.svg")}, paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, cr := range rep.Cases[:4] {
			assert.Contains(t, string(b), html.EscapeString(cr.Case.TestID), "%s names %s", p, cr.Case.TestID)
		}
	}
}
