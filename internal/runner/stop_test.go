package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// TestRunStopsAtMaxFailures: the first failure stops the run. The pods
// still running are deleted and their tests, like those never started, are
// reported as not run; no further pod is created. Every test but one runs
// until it is stopped, so no other verdict can come in between.
func TestRunStopsAtMaxFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 30 * time.Millisecond, exit: func(id string, _ int) int32 {
		if id == "t.py::bad" {
			return 1
		}
		<-ctx.Done()
		return 0
	}}
	k.start(ctx)

	results, err := Run(ctx, Options{
		Client: client, Namespace: "ns", RunID: "r3", Image: "img",
		Cases:       cases("t.py::slow", "t.py::bad", "t.py::c", "t.py::d"),
		Parallelism: 2, MaxFailures: 1, Resync: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	require.Len(t, results, 4)

	// The failed pod keeps its slot until its verdict is in, so neither c
	// nor d ever starts.
	k.mu.Lock()
	created := append([]string(nil), k.createdPods...)
	k.mu.Unlock()
	assert.ElementsMatch(t, []string{"ktr-r3-" + testid.CaseID("t.py::slow") + "-1", "ktr-r3-" + testid.CaseID("t.py::bad") + "-1"}, created,
		"no pod after the failure")
	byID := map[string]report.CaseResult{}
	for _, r := range results {
		byID[r.Case.TestID] = r
		assert.True(t, r.Final, r.Case.TestID)
	}
	assert.Equal(t, plan.Failed, byID["t.py::bad"].Status)
	assert.False(t, byID["t.py::bad"].Stopped)
	for _, id := range []string{"t.py::slow", "t.py::c", "t.py::d"} {
		assert.True(t, byID[id].Stopped, id)
		assert.Empty(t, byID[id].Attempts, "%s is not run: the deleted pod is not collected", id)
	}

	var deleted []string
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			deleted = append(deleted, d.GetName())
		}
	}
	assert.ElementsMatch(t, created, deleted, "the failed pod once collected, the running ones at the stop")
	left, err := client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, left.Items)

	rep := report.NewReport("r3", "img", "", time.Now(), time.Second, results)
	assert.Equal(t, report.Counts{Total: 4, Failed: 1, NotRun: 3, Stopped: 3}, rep.Counts())
	assert.Equal(t, 1, rep.ExitCode(0, 1, 2), "a run stopped by failures exits as failed, not as an infrastructure error")
	var summary strings.Builder
	cases := rep.SummaryCases()
	counts := report.Count(cases)
	counts.Wall = rep.Wall
	require.NoError(t, report.Text(&summary, counts, cases, report.Options{Bases: rep.BaseLabels()}))
	assert.Contains(t, summary.String(), "1 failed, 3 not run in 1s (4 tests)\n", "tests not run are not errors")
	for _, tc := range rep.JUnit().Suites[0].Testcases {
		id, _ := tc.Property(junit.PropertyTestID)
		if id == "t.py::bad" {
			require.NotNil(t, tc.Failure)
			continue
		}
		require.NotNil(t, tc.Error, id)
		assert.Equal(t, "NotRun", tc.Error.Type, id)
		assert.Equal(t, report.StoppedMessage, tc.Error.Message, id)
	}
}

// TestStoppedAndCancelled: a case left out by the stop does not make the
// exit code an infrastructure one; one left out by a cancellation does.
func TestStoppedAndCancelled(t *testing.T) {
	c := cases("t.py::a", "t.py::b", "t.py::c")
	failed := []attempt.Attempt{{Number: 1, Outcome: plan.Outcome{Status: plan.Failed, ExitCode: 1}}}
	rep := report.NewReport("r", "", "", time.Now(), time.Second, []report.CaseResult{
		{Case: c[0], Status: plan.Failed, Final: true, Attempts: failed},
		{Case: c[1], Final: true, Stopped: true},
		{Case: c[2]},
	})
	assert.Equal(t, report.Counts{Total: 3, Failed: 1, NotRun: 2, Stopped: 1}, rep.Counts())
	assert.Equal(t, 2, rep.ExitCode(0, 1, 2))
	tcs := rep.JUnit().Suites[0].Testcases
	assert.Equal(t, report.StoppedMessage, tcs[1].Error.Message)
	assert.Equal(t, "the run ended before this test ran", tcs[2].Error.Message)
}

// TestRunGoesOnPastExcusedFailures: a failure the quarantine excuses
// does not count towards MaxFailures, so with a limit of one the run goes
// on past it and runs every test; the unexcused failure, last, reaches
// the limit with nothing left to stop.
func TestRunGoesOnPastExcusedFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := fake.NewClientset()
	k := &kubelet{t: t, client: client, run: 10 * time.Millisecond, exit: func(id string, _ int) int32 {
		if strings.HasSuffix(id, "_fails") {
			return 1
		}
		return 0
	}}
	k.start(ctx)

	ids := []string{"t.py::q_fails", "t.py::ok", "t.py::bad_fails"}
	results, err := Run(ctx, Options{
		Client: client, Namespace: "ns", RunID: "rq", Image: "img",
		Cases:       cases(ids...),
		Excused:     map[string]bool{testid.CaseID("t.py::q_fails"): true},
		Parallelism: 1, MaxFailures: 1, Resync: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	require.Len(t, results, 3)
	k.mu.Lock()
	created := len(k.createdPods)
	k.mu.Unlock()
	assert.Equal(t, 3, created, "a pod for every test")
	status := map[string]plan.Status{}
	for _, r := range results {
		assert.False(t, r.Stopped, r.Case.TestID)
		status[r.Case.TestID] = r.Status
	}
	assert.Equal(t, map[string]plan.Status{"t.py::q_fails": plan.Failed, "t.py::ok": plan.Passed, "t.py::bad_fails": plan.Failed}, status)
}
