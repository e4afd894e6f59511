package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
)

// The operator's comparison prints with direct mode's lines.
func TestOperatorComparisonPrintsAsDirectMode(t *testing.T) {
	base := "0123456789abcdef0123456789abcdef01234567"
	direct := &recall{Comparison: &history.Comparison{Base: base, Branch: "main",
		NewFailures: []string{"tests/test_a.py::test_x"}, Fixed: []string{"tests/test_a.py::test_y"}}}
	var want bytes.Buffer
	direct.print(&want)

	run := &v1alpha1.TestRun{Spec: v1alpha1.TestRunSpec{History: &v1alpha1.HistorySpec{ConfigMap: "h"}}}
	run.Status.Comparison = &v1alpha1.ComparisonStatus{Base: base, Branch: "main", NewFailures: 1, Fixed: 1, NewFailureTests: []string{"tests/test_a.py::test_x"}}
	p := &pipeline{}
	p.keepOperatorRecall(run)
	var got bytes.Buffer
	p.printOperatorComparison(&got)
	assert.Equal(t, "Compared with 0123456789ab (main): 1 new failures, 1 fixed, 0 still failing, 0 new flaky, 0 new tests, 0 removed, 0 slower\n  NEW FAILURE tests/test_a.py::test_x\n", got.String())
	assert.Contains(t, want.String(), got.String()[:len(got.String())-len("  NEW FAILURE tests/test_a.py::test_x\n")], "the same line as direct mode's")
	assert.Contains(t, want.String(), "  NEW FAILURE tests/test_a.py::test_x\n")

	run.Status.Comparison = nil
	run.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionCompared, Status: metav1.ConditionFalse, Reason: "NoBase", Message: "no earlier run of branch main is recorded in configmap h; nothing to compare with"}}
	p.keepOperatorRecall(run)
	got.Reset()
	p.printOperatorComparison(&got)
	assert.Equal(t, "history: no earlier run of branch main is recorded in configmap h; nothing to compare with\n", got.String())

	p = &pipeline{}
	p.keepOperatorRecall(&v1alpha1.TestRun{})
	got.Reset()
	p.printOperatorComparison(&got)
	assert.Empty(t, got.String(), "no spec.history, nothing")
}

// --history-configmap sets spec.history: the commit, its branch and the
// base to compare with; the commit is the checkout's when the flags name
// none, and without the flag there is no spec.history.
func TestOperatorHistorySpec(t *testing.T) {
	ctx := context.Background()
	p := &pipeline{cfg: config.Config{HistoryConfigMap: "proj-history", HistoryCommit: "abc1234", HistoryBranch: "feature", CompareTo: "main"}, log: slog.New(slog.DiscardHandler)}
	run := &v1alpha1.TestRun{}
	require.NoError(t, p.operatorSpec(ctx, run))
	assert.Equal(t, &v1alpha1.HistorySpec{ConfigMap: "proj-history", Commit: "abc1234", Branch: "feature", CompareTo: "main"}, run.Spec.History)

	git, repo, _ := gitRepo(t, "topic", map[string]string{"test_a.py": "def test_a(): pass\n"})
	head, _, err := history.Head(ctx, git, repo)
	require.NoError(t, err)
	p.cfg = config.Config{HistoryConfigMap: "proj-history", ProjectDir: repo}
	run = &v1alpha1.TestRun{}
	require.NoError(t, p.operatorSpec(ctx, run))
	assert.Equal(t, &v1alpha1.HistorySpec{ConfigMap: "proj-history", Commit: head, Branch: "topic"}, run.Spec.History, "the checkout's commit and branch")

	p.cfg = config.Config{}
	run = &v1alpha1.TestRun{}
	require.NoError(t, p.operatorSpec(ctx, run))
	assert.Nil(t, run.Spec.History, "no flag, no spec.history")
}

// --fail-on new-failures reads the operator's comparison as direct mode
// reads its own: only a new failure, or a failing new test, fails the run.
func TestOperatorComparisonFailOnNewFailures(t *testing.T) {
	recall := func(c *v1alpha1.ComparisonStatus) *operatorRecall { return &operatorRecall{comparison: c} }
	old := recall(&v1alpha1.ComparisonStatus{Base: "abc", StillFailing: 2, Fixed: 1})
	assert.Equal(t, ExitOK, old.exitCode(config.FailOnNewFailures, ExitTestsFailed), "only old failures")
	assert.Equal(t, ExitTestsFailed, old.exitCode(config.FailOnFailures, ExitTestsFailed), "the default is unchanged")
	assert.Equal(t, ExitInfra, old.exitCode(config.FailOnNewFailures, ExitInfra), "an infrastructure error stays one")
	assert.Equal(t, ExitTestsFailed, recall(&v1alpha1.ComparisonStatus{NewFailures: 1, StillFailing: 1}).exitCode(config.FailOnNewFailures, ExitTestsFailed))
	assert.Equal(t, ExitTestsFailed, recall(&v1alpha1.ComparisonStatus{NewTests: 1, FailingNewTests: 1}).exitCode(config.FailOnNewFailures, ExitTestsFailed))
	assert.Equal(t, ExitTestsFailed, recall(nil).exitCode(config.FailOnNewFailures, ExitTestsFailed), "no base: every failure counts")
	assert.Equal(t, ExitTestsFailed, (*operatorRecall)(nil).exitCode(config.FailOnNewFailures, ExitTestsFailed), "no spec.history")
}

// printListed shows at most maxListed tests and counts the rest, whether
// the list holds them (direct mode) or only the total does (the
// operator's status, which names fewer).
func TestPrintListedCountsWhatItLeavesOut(t *testing.T) {
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("t.py::test_%d", i)
		}
		return out
	}
	var b bytes.Buffer
	printListed(&b, "NEW FAILURE", ids(3), 3)
	assert.Equal(t, "  NEW FAILURE t.py::test_0\n  NEW FAILURE t.py::test_1\n  NEW FAILURE t.py::test_2\n", b.String())

	b.Reset()
	printListed(&b, "FIXED", ids(maxListed+5), maxListed+5)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	require.Len(t, lines, maxListed+1)
	assert.Equal(t, "  ... and 5 more", lines[maxListed])

	b.Reset()
	printListed(&b, "NEW FAILURE", ids(2), 12)
	assert.Equal(t, "  NEW FAILURE t.py::test_0\n  NEW FAILURE t.py::test_1\n  ... and 10 more\n", b.String())
}
