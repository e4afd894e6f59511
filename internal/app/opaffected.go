package app

import (
	"context"
	"sort"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
)

// Bounds of the list spec.affectedSince carries: past them every test
// runs, which never misses a test.
const (
	maxNotAffected      = 20000
	maxNotAffectedBytes = 512 << 10
)

// operatorAffected is --affected-since in operator mode: the footprints
// are in the --history directory and the change in the project's checkout,
// both here, so this process runs the same git diff and the same rules as
// direct mode, with the base's tests as candidates (the run's are not
// discovered yet), and passes the tests left out to the operator in
// spec.affectedSince; the operator runs those of a lane that opts out all
// the same. nil, with a line saying why, runs every test.
func (p *pipeline) operatorAffected(ctx context.Context) (*v1alpha1.AffectedSince, error) {
	if p.cfg.AffectedSince == "" {
		return nil, nil
	}
	base, sel, err := p.affectedSelection(ctx, nil)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(sel.Skip))
	size := 0
	for id := range sel.Skip {
		ids = append(ids, id)
		size += len(id)
	}
	switch {
	case sel.All != "":
	case len(ids) > maxNotAffected || size > maxNotAffectedBytes:
		sel.All = "more tests are not affected than a TestRun can list"
	}
	if sel.All != "" {
		p.log.Warn("affected-since: running every test: " + logtext.Line(sel.All))
		return nil, nil
	}
	sort.Strings(ids)
	p.log.Info("affected-since: tests the change cannot affect, for the operator to leave out", "base", base, "tests", len(ids), "changed_files", sel.Changed)
	return &v1alpha1.AffectedSince{Commit: base, NotAffected: ids}, nil
}

// operatorNotAffected keeps for the summaries how many tests the
// operator left out.
func (p *pipeline) operatorNotAffected(run, final *v1alpha1.TestRun) {
	if run.Spec.AffectedSince == nil || final == nil {
		return
	}
	p.noteNotAffected(run.Spec.AffectedSince.Commit, int(final.Status.NotAffected))
}
