package operator

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// TestLoadReportMatchesDirectMode builds the report of the same attempts
// twice: as direct mode does, from the attempts in memory, and as operator
// mode does, from what the TestCases and their ConfigMaps keep. The JUnit
// must be the same.
func TestLoadReportMatchesDirectMode(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), func(r *v1alpha1.TestRun) { r.Spec.Parallelism = 3 }))
	started(t, e, "r1")
	codes := map[string]int32{sampleIDs[0]: 0, sampleIDs[1]: 1, sampleIDs[2]: 0}
	for _, id := range sampleIDs {
		e.finish(podName("r1", id, 1), codes[id], false)
	}
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	run := e.run("r1")
	require.Equal(t, v1alpha1.RunFailed, run.Status.Phase)

	got, err := LoadReport(context.Background(), e.client, run)
	require.NoError(t, err)

	var direct []report.CaseResult
	for _, id := range sampleIDs {
		tc := e.testCase("r1", id)
		at := AttemptOf(tc.Status.History[0])
		at.Results, err = attempt.ParseResults(block(t, id, codes[id]))
		require.NoError(t, err)
		direct = append(direct, report.CaseResult{
			Case: plan.Case{ID: testid.CaseID(id), TestID: id}, Status: at.Outcome.Status, Final: true, Attempts: []attempt.Attempt{at},
		})
	}
	want := report.NewReport("r1", run.Spec.Image, "sha256:0123", run.Status.StartTime.Time,
		run.Status.CompletionTime.Sub(run.Status.StartTime.Time), direct)

	assert.Equal(t, want.JUnit(), got.JUnit())
	assert.Equal(t, want.Counts(), got.Counts())
	assert.Equal(t, report.Counts{Total: 3, Passed: 2, Failed: 1}, got.Counts())

	stored, err := ReadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, want.WriteJUnit(&buf))
	assert.Equal(t, buf.String(), string(stored), "the report in the ConfigMap is the same JUnit")
}

func TestReportConfigMapCompressesLargeReports(t *testing.T) {
	run := testRun("r1")
	// The merged report caps each test's output, so the report is large
	// by the number of tests.
	var many []report.CaseResult
	for i := range 20 {
		id := fmt.Sprintf("t.py::x%d", i)
		many = append(many, report.CaseResult{Case: plan.Case{ID: fmt.Sprint("x", i), TestID: id}, Status: plan.Failed, Final: true, Attempts: []attempt.Attempt{{
			Number: 1, Outcome: plan.Outcome{Status: plan.Failed, ExitCode: 1},
			Results: attempt.Results{Output: string(bytes.Repeat([]byte("log line\n"), 25_000))},
		}}})
	}
	rep := report.NewReport("r1", "img", "", time.Time{}, 0, many)
	cm, ref, err := reportConfigMap(run, rep)
	require.NoError(t, err)
	assert.Equal(t, ReportKeyGzip, ref.Key)
	assert.Empty(t, cm.Data)
	assert.Less(t, len(cm.BinaryData[ReportKeyGzip]), maxStored)

	e := newEnv(t, cm)
	run.Status.Report = ref
	xml, err := ReadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	assert.Contains(t, string(xml), "log line")
}

func TestTruncateKeepsRunes(t *testing.T) {
	assert.Equal(t, "ab", truncate("ab", 2))
	assert.Equal(t, "a…", truncate("aé", 2), "never half a rune")
}
