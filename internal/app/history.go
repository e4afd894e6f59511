package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// recall is what the history store adds to a run's report: the
// comparison with a base, or the line that says why there is none, and
// the quarantined tests ready to release.
type recall struct {
	Comparison *history.Comparison
	// NoBase says why nothing was compared; "" with a comparison.
	NoBase string
	// Ready are the quarantined tests that passed in their last history.ReadyRuns
	// recorded runs, this one included.
	Ready []string
	// Problems are what went wrong with the store, each one line; the run
	// goes on without it.
	Problems []string
}

// remember records rep in the history store as cfg.HistoryCommit's (else
// the project's checked-out commit's) and compares it with the base:
// cfg.CompareTo, else the first of cfg.CompareDefaults recorded, else the
// newest earlier record of the commit's branch. Only a run that ended
// normally (runErr nil) is recorded: a partial one would make a poor
// base. facts are what the record keeps beside the report.
func remember(ctx context.Context, cfg config.Config, rep *report.Report, runErr error, facts runFacts) (*recall, error) {
	if cfg.History == "" || rep == nil {
		return nil, nil
	}
	m := &recall{}
	store := history.Store{Dir: cfg.History}
	commit, branch := cfg.HistoryCommit, cfg.HistoryBranch
	if commit == "" {
		var err error
		if commit, branch, err = history.Head(ctx, "", cfg.ProjectDir); err != nil {
			m.Problems = append(m.Problems, "history: not recorded, the project's commit is unknown: "+logtext.Line(err.Error()))
		}
	}
	tests := history.TestsOf(rep)
	base, noBase, err := findBase(store, cfg, commit, branch)
	if err != nil {
		return nil, historyError(cfg, err)
	}
	if noBase != "" {
		m.NoBase = noBase
	} else {
		rec, ok, err := store.Read(base)
		if err != nil {
			return nil, historyError(cfg, err)
		}
		if ok {
			m.Comparison = history.Compare(tests, rec)
		} else {
			m.NoBase = "history: the record of " + base.Commit + " was pruned while this run read it; nothing to compare with"
		}
	}
	if commit != "" && runErr == nil {
		r := history.NewRecord(commit, branch, rep.Started, tests)
		r.Footprints, r.BaseDigest = facts.Footprints, facts.BaseDigest
		r.PodOverheadSeconds = math.Round(podOverhead(rep).Seconds()*1000) / 1000
		if err := store.Save(r); err != nil {
			return m, historyError(cfg, err)
		}
	}
	if rep.Quarantine != nil {
		var quarantined []string
		for _, t := range tests {
			if _, ok := rep.Quarantine.Excuses(t.ID, rep.Started); ok {
				quarantined = append(quarantined, t.ID)
			}
		}
		if m.Ready, err = store.PassedInLast(quarantined, history.ReadyRuns); err != nil {
			return m, historyError(cfg, err)
		}
	}
	return m, nil
}

// historyError is a store this k8s-testrun cannot read, as a bad input.
func historyError(cfg config.Config, err error) error {
	var fe *history.FormatError
	if errors.As(err, &fe) {
		return &config.Error{Input: "history", Value: cfg.History, Fix: err.Error()}
	}
	return fmt.Errorf("history %s: %w", cfg.History, err)
}

// findBase is the record to compare with, or a line saying why there is
// none.
func findBase(store history.Store, cfg config.Config, commit, branch string) (history.Entry, string, error) {
	refs := []string{cfg.CompareTo}
	if cfg.CompareTo == "" {
		refs = append(append([]string(nil), cfg.CompareDefaults...), branch)
	}
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		e, ok, err := store.Resolve(ref, commit)
		if err != nil || ok {
			return e, "", err
		}
	}
	switch {
	case cfg.CompareTo != "":
		return history.Entry{}, fmt.Sprintf("history: %s is not recorded in %s; nothing to compare with", logtext.Line(cfg.CompareTo), cfg.History), nil
	case len(cfg.CompareDefaults) == 0 && branch != "":
		return history.Entry{}, fmt.Sprintf("history: no earlier run of branch %s is recorded in %s; nothing to compare with", logtext.Line(branch), cfg.History), nil
	case len(cfg.CompareDefaults) > 0 || branch != "":
		var names []string
		for _, r := range refs {
			if r != "" {
				names = append(names, logtext.Line(r))
			}
		}
		return history.Entry{}, fmt.Sprintf("history: none of %s is recorded in %s; nothing to compare with", strings.Join(names, ", "), cfg.History), nil
	}
	return history.Entry{}, "history: no base to compare with (give --compare-to)", nil
}

// exitCode is the run's exit code under --fail-on: new-failures lets a
// run whose failures all failed on the base too pass. Without a base every
// failure is new.
func (m *recall) exitCode(failOn string, code int) int {
	if m == nil || m.Comparison == nil {
		return failOnNew(failOn, code, false, 0)
	}
	return failOnNew(failOn, code, true, len(m.Comparison.NewFailures)+len(m.Comparison.FailingNewTests))
}

// failOnNew is the exit code under --fail-on, in direct and operator mode
// alike: with new-failures, a run that failed only by tests failing on its
// base (compared, and none new) passes; without a comparison every failure
// is new.
func failOnNew(failOn string, code int, compared bool, newFailing int) int {
	if failOn != config.FailOnNewFailures || code != ExitTestsFailed || !compared || newFailing > 0 {
		return code
	}
	return ExitOK
}

// maxListed bounds each list the terminal shows of a comparison.
const maxListed = 20

// comparedLine is the summary's line of a comparison with the base, in
// direct and operator mode alike.
func comparedLine(base, branch string, newFailures, fixed, stillFailing, newFlaky, newTests, removed, slower int) string {
	if len(base) > 12 {
		base = base[:12]
	}
	if branch != "" {
		base += " (" + logtext.Line(branch) + ")"
	}
	return fmt.Sprintf("Compared with %s: %d new failures, %d fixed, %d still failing, %d new flaky, %d new tests, %d removed, %d slower",
		logtext.Line(base), newFailures, fixed, stillFailing, newFlaky, newTests, removed, slower)
}

// print writes the comparison, or why there is none, and the tests ready
// to release, to the terminal. Test ids are the tests' words: each is one
// defused line.
func (m *recall) print(w io.Writer) {
	if m == nil {
		return
	}
	for _, p := range m.Problems {
		fmt.Fprintln(w, p)
	}
	if m.NoBase != "" {
		fmt.Fprintln(w, m.NoBase)
	}
	if c := m.Comparison; c != nil {
		fmt.Fprintln(w, comparedLine(c.Base, c.Branch, len(c.NewFailures), len(c.Fixed), len(c.StillFailing), len(c.NewFlaky), len(c.NewTests), len(c.RemovedTests), len(c.Slower)))
		for _, l := range []struct {
			what string
			ids  []string
		}{{"NEW FAILURE", c.NewFailures}, {"FIXED", c.Fixed}, {"NEW FLAKY", c.NewFlaky}} {
			printListed(w, l.what, l.ids, len(l.ids))
		}
		for i, s := range c.Slower {
			if i == maxListed {
				break
			}
			fmt.Fprintf(w, "  SLOWER %s %s -> %s\n", logtext.Line(s.Test), secs(s.BaseSeconds), secs(s.Seconds))
		}
	}
	for _, id := range m.Ready {
		fmt.Fprintf(w, "Ready to release from quarantine (passed in its last %d runs): %s\n", history.ReadyRuns, logtext.Line(id))
	}
}

// printListed writes a line per test of ids, at most maxListed, then how
// many of total it left out; total may exceed len(ids) where the list was
// cut before (the operator's status).
func printListed(w io.Writer, what string, ids []string, total int) {
	shown := min(len(ids), maxListed)
	for _, id := range ids[:shown] {
		fmt.Fprintf(w, "  %s %s\n", what, logtext.Line(id))
	}
	if total > shown {
		fmt.Fprintf(w, "  ... and %d more\n", total-shown)
	}
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(10 * time.Millisecond).String()
}

// notes are the lines the job summary shows of the history.
func (m *recall) notes() []string {
	if m == nil {
		return nil
	}
	out := append([]string(nil), m.Problems...)
	if m.NoBase != "" {
		out = append(out, m.NoBase)
	}
	return out
}

// comparison is the comparison, if any, for --output json.
func (m *recall) comparison() *history.Comparison {
	if m == nil {
		return nil
	}
	return m.Comparison
}

// cmpOrErr is the run's error, else the history's.
func cmpOrErr(run, hist error) error {
	if run != nil {
		return run
	}
	return hist
}

// storeDurations adds to d, the durations file's, each test's duration in
// the history store's newest records, which take precedence: one cache
// serves both.
func storeDurations(cfg config.Config, d map[string]time.Duration) (map[string]time.Duration, error) {
	if cfg.History == "" {
		return d, nil
	}
	sd, err := history.Store{Dir: cfg.History}.Durations()
	if err != nil {
		return nil, historyError(cfg, err)
	}
	for id, v := range sd {
		d[id] = v
	}
	return d, nil
}

// runFacts are what a history record keeps of a run beside its report.
type runFacts struct {
	// Footprints are each test's executed files and their hashes.
	Footprints map[string]map[string]string
	// BaseDigest is the base image's digest.
	BaseDigest string
}

func (p *pipeline) facts() runFacts {
	f := runFacts{Footprints: p.footprints}
	if p.image.BaseDigest.Hex != "" {
		f.BaseDigest = p.image.BaseDigest.String()
	}
	return f
}
