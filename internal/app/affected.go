package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// affected keeps, with --affected-since, the cases a change since the
// base can affect, and reports the others as skipped, each with
// history.SkipMessage and junit.PropertyNotAffected. Every case runs, with a
// line saying why, when the base is not in the history, git cannot diff
// against it, the base image changed, or history.Affected says so.
func (p *pipeline) affected(ctx context.Context, cases []plan.Case) ([]plan.Case, []report.CaseResult, error) {
	ref := p.cfg.AffectedSince
	if ref == "" {
		return cases, nil, nil
	}
	cands := make([]history.Candidate, 0, len(cases))
	for _, c := range cases {
		cands = append(cands, history.Candidate{ID: c.TestID, Lane: c.Lane})
	}
	base, sel, err := p.affectedSelection(ctx, cands)
	if err != nil {
		return nil, nil, err
	}
	if sel.All != "" {
		p.log.Warn("affected-since: running every test: " + logtext.Line(sel.All))
		return cases, nil, nil
	}
	var run []plan.Case
	var skipped []report.CaseResult
	for _, c := range cases {
		last, ok := sel.Skip[c.TestID]
		if !ok {
			run = append(run, c)
			continue
		}
		skipped = append(skipped, history.NotAffectedResult(c, base, last))
	}
	p.log.Warn(fmt.Sprintf("affected-since %s: %d of %d tests not affected, reported as skipped; %d changed files", logtext.Line(p.cfg.AffectedSince), len(skipped), len(cases), sel.Changed))
	p.noteNotAffected(base, len(skipped))
	return run, skipped, nil
}

// noteNotAffected keeps for the summaries how many of the run's tests
// --affected-since left out.
func (p *pipeline) noteNotAffected(base string, skipped int) {
	p.notAffected = skipped
	if skipped > 0 {
		p.affectedNote = fmt.Sprintf("%d tests were not affected by the change since %s (--affected-since), and did not run", skipped, base[:min(12, len(base))])
	}
}

// affectedSelection resolves --affected-since in the history and picks,
// of cands, the tests the change since that base can affect: base is its
// commit; sel.All says why every test runs instead (the base is not in the
// history, git cannot diff against it, the base image changed, or
// history.Affected says so).
func (p *pipeline) affectedSelection(ctx context.Context, cands []history.Candidate) (base string, sel affectedSel, err error) {
	ref := p.cfg.AffectedSince
	all := func(why string) (string, affectedSel, error) {
		return "", affectedSel{Selection: history.Selection{All: why}}, nil
	}
	store := history.Store{Dir: p.cfg.History}
	e, ok, err := store.Resolve(ref, "")
	if err != nil {
		return "", affectedSel{}, historyError(p.cfg, err)
	}
	if !ok {
		return all(ref + " is not recorded in " + p.cfg.History)
	}
	rec, ok, err := store.Read(e)
	if err != nil {
		return "", affectedSel{}, historyError(p.cfg, err)
	}
	if !ok {
		return all(e.Commit + " was pruned from the history")
	}
	if d := p.image.BaseDigest.String(); rec.BaseDigest == "" || d != rec.BaseDigest {
		return all(fmt.Sprintf("the base image's digest is %s, the base's run had %q", d, rec.BaseDigest))
	}
	changed, err := history.Changed(ctx, "", p.cfg.ProjectDir, e.Commit)
	if err != nil {
		return all(err.Error())
	}
	var reqs []string
	if p.cfg.Requirements != "" {
		reqs = append(reqs, filepath.ToSlash(p.cfg.Requirements))
	}
	if cands == nil {
		// Operator mode: the tests are not discovered yet; the base's are
		// the candidates, and the operator runs the lanes that opt out.
		for id := range rec.Tests {
			cands = append(cands, history.Candidate{ID: id})
		}
	}
	return e.Commit, affectedSel{Selection: history.Affected(changed, rec, cands, reqs), Changed: len(changed)}, nil
}

// affectedSel is a history.Selection with the number of changed files.
type affectedSel struct {
	history.Selection
	Changed int
}
