package app

import (
	"context"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
)

// operatorRecall is what the operator's history (spec.history) said of a
// finished run: its status.comparison, or why there was none.
type operatorRecall struct {
	comparison *v1alpha1.ComparisonStatus
	noBase     string
}

// operatorSpec sets what the TestRun takes from the history: the tests
// --affected-since leaves out, and --history-configmap's spec.history.
func (p *pipeline) operatorSpec(ctx context.Context, run *v1alpha1.TestRun) error {
	var err error
	if run.Spec.AffectedSince, err = p.operatorAffected(ctx); err != nil {
		return err
	}
	run.Spec.History = p.operatorHistory(ctx)
	return nil
}

// operatorHistory is spec.history for --history-configmap: the run is
// recorded under the project's commit (read with git as direct mode reads
// it; unknown, the operator compares without recording) and compared with
// --compare-to, else the newest earlier record of the branch.
func (p *pipeline) operatorHistory(ctx context.Context) *v1alpha1.HistorySpec {
	if p.cfg.HistoryConfigMap == "" {
		return nil
	}
	commit, branch := p.cfg.HistoryCommit, p.cfg.HistoryBranch
	if commit == "" {
		var err error
		if commit, branch, err = history.Head(ctx, "", p.cfg.ProjectDir); err != nil {
			p.log.Warn("history: the run is compared, not recorded: the project's commit is unknown", "error", logtext.Line(err.Error()))
		}
	}
	if len(branch) > 255 {
		branch = ""
	}
	return &v1alpha1.HistorySpec{ConfigMap: p.cfg.HistoryConfigMap, Commit: commit, Branch: branch, CompareTo: p.cfg.CompareTo}
}

// keepOperatorRecall keeps what the operator compared, for the summary.
func (p *pipeline) keepOperatorRecall(final *v1alpha1.TestRun) {
	if final == nil || final.Spec.History == nil {
		return
	}
	r := &operatorRecall{comparison: final.Status.Comparison}
	if c := meta.FindStatusCondition(final.Status.Conditions, v1alpha1.ConditionCompared); c != nil && c.Status != "True" {
		r.noBase = "history: " + c.Message
	}
	p.opRecall = r
}

// exitCode is the run's exit code under --fail-on with the operator's
// comparison, as recall.exitCode with direct mode's: under new-failures a
// run whose failures all failed on the base too passes; without a
// comparison every failure is new.
func (r *operatorRecall) exitCode(failOn string, code int) int {
	if r == nil || r.comparison == nil {
		return failOnNew(failOn, code, false, 0)
	}
	return failOnNew(failOn, code, true, int(r.comparison.NewFailures+r.comparison.FailingNewTests))
}

// printOperatorComparison prints the operator's comparison in the
// terminal summary with direct mode's lines: the counts, then the new
// failures the status names.
func (p *pipeline) printOperatorComparison(w io.Writer) {
	r := p.opRecall
	if r == nil {
		return
	}
	if r.noBase != "" {
		fmt.Fprintln(w, logtext.Line(r.noBase))
	}
	c := r.comparison
	if c == nil {
		return
	}
	fmt.Fprintln(w, comparedLine(c.Base, c.Branch, int(c.NewFailures), int(c.Fixed), int(c.StillFailing), int(c.NewFlaky), int(c.NewTests), int(c.RemovedTests), int(c.Slower)))
	printListed(w, "NEW FAILURE", c.NewFailureTests, int(c.NewFailures))
}
