package app

import (
	"context"
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// operatorExtras adds to the report of a finished TestRun what this
// process finds beside the operator: the tests affectedSince left out, and
// the combined coverage.
func (p *pipeline) operatorExtras(ctx context.Context, c client.Reader, run, final *v1alpha1.TestRun, rep *report.Report) error {
	p.operatorNotAffected(run, final)
	p.keepOperatorRecall(final)
	return p.operatorCoverage(ctx, c, final, rep)
}

// operatorCoverage, with --coverage in operator mode, combines the data
// files the operator kept of the run's pods (one ConfigMap per pod) exactly
// as direct mode combines those its runner received: in a coverage pod of
// the test image, which this process built and can overlay. The
// footprints reach the --history directory the same way too.
func (p *pipeline) operatorCoverage(ctx context.Context, c client.Reader, run *v1alpha1.TestRun, rep *report.Report) error {
	dir, err := p.coverageDir()
	if err != nil || dir == "" {
		return err
	}
	defer os.RemoveAll(dir)
	pods, err := operator.SaveCoverage(ctx, c, run, dir, func(err error) {
		p.log.Warn("keeping the coverage data", "error", err)
	})
	if err != nil {
		return fmt.Errorf("reading the coverage data the operator kept: %w", err)
	}
	p.log.Info("coverage data the operator kept", "testrun", run.Name, "pods", pods)
	return p.combineCoverage(ctx, dir, rep)
}
