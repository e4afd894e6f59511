package app

import (
	"fmt"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/rerun"
)

// missingExamples is how many of the report's tests that no longer exist
// the line about them names.
const missingExamples = 3

// nothingToRerun is the one line said when --rerun-failed names a report
// without failures, so that nothing is built or run; "" otherwise.
func nothingToRerun(cfg config.Config) string {
	if cfg.Rerun == nil || len(cfg.Rerun.Failed) > 0 {
		return ""
	}
	return fmt.Sprintf("k8s-testrun: %s has no failed or errored tests (of %d); nothing to rerun",
		logtext.Line(cfg.RerunFailed), cfg.Rerun.Tests)
}

// rerunOnly narrows the discovered ids to the failed tests of the
// --rerun-failed report, and says in one line which of them are gone.
func (p *pipeline) rerunOnly(ids []string) []string {
	r := p.cfg.Rerun
	if r == nil {
		return ids
	}
	sel := rerun.Match(r.Failed, ids)
	if line := missingLine(p.cfg.RerunFailed, len(r.Failed), sel); line != "" {
		fmt.Fprintln(p.stderr, line)
	}
	p.log.Info("rerunning the failed tests of a report", "report", p.cfg.RerunFailed, "failed", len(r.Failed), "tests", len(sel.IDs), "missing", len(sel.Missing))
	return sel.IDs
}

// missingLine says how many of a report's failed tests match no
// discovered test, with a few of them; "" when all match.
func missingLine(report string, failed int, sel rerun.Selection) string {
	if len(sel.Missing) == 0 {
		return ""
	}
	var names []string
	for _, t := range sel.Missing[:min(len(sel.Missing), missingExamples)] {
		name := t.String()
		if len(name) > 200 {
			name = name[:200] + "…"
		}
		names = append(names, name)
	}
	if len(sel.Missing) > missingExamples {
		names = append(names, "…")
	}
	rest := fmt.Sprintf("running the other %d", len(sel.IDs))
	if len(sel.IDs) == 0 {
		rest = "nothing to rerun"
	}
	return logtext.Line(fmt.Sprintf("k8s-testrun: %d of the %d failed tests in %s no longer exist (%s); %s",
		len(sel.Missing), failed, report, strings.Join(names, ", "), rest))
}

// stoppedNote tells, in the job summary, why tests did not run.
func stoppedNote(notRun, maxFailures int) string {
	return fmt.Sprintf("The run stopped after %d failed or errored %s (max_failures): %d %s not run.",
		maxFailures, plural(maxFailures, "test", "tests"), notRun, plural(notRun, "test was", "tests were"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
