package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
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
	all := func(why string) ([]plan.Case, []report.CaseResult, error) {
		p.log.Warn("affected-since: running every test: " + logtext.Line(why))
		return cases, nil, nil
	}
	store := history.Store{Dir: p.cfg.History}
	e, ok, err := store.Resolve(ref, "")
	if err != nil {
		return nil, nil, historyError(p.cfg, err)
	}
	if !ok {
		return all(ref + " is not recorded in " + p.cfg.History)
	}
	base, ok, err := store.Read(e)
	if err != nil {
		return nil, nil, historyError(p.cfg, err)
	}
	if !ok {
		return all(e.Commit + " was pruned from the history")
	}
	if d := p.image.BaseDigest.String(); base.BaseDigest == "" || d != base.BaseDigest {
		return all(fmt.Sprintf("the base image's digest is %s, the base's run had %q", d, base.BaseDigest))
	}
	changed, err := history.Changed(ctx, "", p.cfg.ProjectDir, e.Commit)
	if err != nil {
		return all(err.Error())
	}
	var reqs []string
	if p.cfg.Requirements != "" {
		reqs = append(reqs, filepath.ToSlash(p.cfg.Requirements))
	}
	cands := make([]history.Candidate, 0, len(cases))
	for _, c := range cases {
		cands = append(cands, history.Candidate{ID: c.TestID, Lane: c.Lane})
	}
	sel := history.Affected(changed, base, cands, reqs)
	if sel.All != "" {
		return all(sel.All)
	}
	var run []plan.Case
	var skipped []report.CaseResult
	for _, c := range cases {
		last, ok := sel.Skip[c.TestID]
		if !ok {
			run = append(run, c)
			continue
		}
		file := testid.File(c.TestID)
		tc := junit.Testcase{Classname: file, Name: c.TestID, File: file, Time: "0",
			Skipped: &junit.Result{Message: history.SkipMessage(e.Commit, last)},
		}
		skipped = append(skipped, report.CaseResult{Case: c, Status: plan.Skipped, Final: true, NotAffected: last,
			Attempts: []attempt.Attempt{{Outcome: plan.Outcome{Status: plan.Skipped}, Results: attempt.Results{Testcase: &tc, ExitCode: -1}}}})
	}
	p.log.Warn(fmt.Sprintf("affected-since %s: %d of %d tests not affected, reported as skipped; %d changed files", logtext.Line(ref), len(skipped), len(cases), len(changed)))
	p.notAffected = len(skipped)
	if len(skipped) > 0 {
		p.affectedNote = fmt.Sprintf("%d tests were not affected by the change since %s (--affected-since), and did not run", len(skipped), e.Commit[:min(12, len(e.Commit))])
	}
	return run, skipped, nil
}
