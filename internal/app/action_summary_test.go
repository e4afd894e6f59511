package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/ghaction"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// TestActionJobSummaryHasTheGantt: the job summary ends with a Mermaid
// gantt of the slowest pods and the phase totals, and the step's log
// summary has the pod times.
func TestActionJobSummaryHasTheGantt(t *testing.T) {
	dir := t.TempDir()
	sum := filepath.Join(dir, "summary")
	env, stdout, _ := testEnv(map[string]string{"GITHUB_STEP_SUMMARY": sum, "GITHUB_OUTPUT": filepath.Join(dir, "output")})
	a := &action{
		env: env, wf: ghaction.NewWorkflow(env.Stdout, env.Getenv), log: slog.New(slog.DiscardHandler),
		cfg: config.Config{JUnitPath: filepath.Join(dir, "junit.xml")}, set: ghaction.Settings{FailOn: "failures", JUnitPath: "junit.xml"},
		start: t0, noCheck: "No check run: test",
	}
	var cases []report.CaseResult
	for i, id := range []string{"a", "b", "c"} {
		tl := podLife(t0.Add(time.Duration(i)*time.Second), time.Second, 2*time.Second, time.Duration(i+1)*time.Second, time.Second)
		cases = append(cases, report.CaseResult{Case: plan.Case{ID: id, TestID: "t.py::test_" + id}, Status: plan.Passed, Final: true,
			Attempts: []attempt.Attempt{{Number: 1, Pod: "pod-" + id, Outcome: plan.Outcome{Status: plan.Passed}, Timeline: tl,
				Results: attempt.Results{Testcase: &junit.Testcase{Classname: "t", Name: "test_" + id, Time: "0.500"}}}}})
	}
	rep := report.NewReport("r1", "img", "", t0, 10*time.Second, cases)
	code := a.finish(context.Background(), rep, nil, false)
	assert.Equal(t, ExitOK, code)

	b, err := os.ReadFile(sum)
	require.NoError(t, err)
	md := string(b)
	i := strings.Index(md, "```mermaid\ngantt\n")
	require.GreaterOrEqual(t, i, 0, md)
	assert.Contains(t, md[i:], "section t.py::test_c (passed, 7.0s)")
	assert.Contains(t, md[i:], "time in pods: 17% waiting, 33% starting, 33% testing, 17% collecting (18s in all)")
	assert.Less(t, len(md), ghaction.MaxJobSummary)
	assert.Contains(t, stdout.String(), "pod time test time", "the log's summary has pod and test times")
}
