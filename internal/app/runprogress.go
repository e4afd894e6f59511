package app

import (
	"io"
	"log/slog"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/progress"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/runner"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// liveRefresh is how often the live status line is redrawn between
// results, so elapsed time and ETA move.
const liveRefresh = 250 * time.Millisecond

// runOutput is where the run command writes: its progress, its summary and
// its log.
type runOutput struct {
	progress progress.Printer
	// summary receives the closing summary: stdout, unless stdout carries
	// JSON events.
	summary io.Writer
	log     *slog.Logger
}

// newRunOutput chooses the run's output from its flags and its streams:
// JSON events on stdout with --output json; else, on a terminal, a live
// status line on stderr, and elsewhere one line per test. The logger's
// key=value lines are for -v alone; without it only problems are logged.
func newRunOutput(cfg config.Config, env Env) runOutput {
	out := runOutput{summary: env.Stdout}
	opts := progress.Options{
		Terminal: env.StderrIsTerminal,
		Color:    env.StderrIsTerminal && env.Getenv("NO_COLOR") == "" && env.Getenv("TERM") != "dumb",
		Verbose:  cfg.Verbose,
		Refresh:  liveRefresh,
	}
	w := env.Stderr
	if cfg.Output == config.OutputJSON {
		opts.Format = progress.FormatJSON
		w, out.summary = env.Stdout, env.Stderr
	}
	out.progress = progress.New(w, opts)
	level := slog.LevelWarn
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	out.log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	return out
}

// Phase words for a person.
var phaseText = map[string]string{
	phaseBuild:    "building the test image",
	phaseDiscover: "discovering tests",
}

// attach makes p report to the printer.
func (o runOutput) attach(p *pipeline) {
	started := false
	p.onPhase = func(phase string) {
		if text, ok := phaseText[phase]; ok {
			o.progress.Phase(text)
		}
	}
	p.onStart = func(tests int, durations map[string]time.Duration) {
		started = true
		o.progress.Start(progress.Start{
			RunID: p.runID, Tests: tests, Parallelism: p.cfg.Parallelism,
			MaxAttempts: p.cfg.Retries + 1, Namespace: p.cluster.Namespace,
			InfraRetries: p.cfg.InfraRetries,
			Expected:     durations,

			FlakyAttempts: p.cfg.FlakyRetries + 1,
		})
	}
	p.onPod = func(e runner.PodEvent) {
		o.progress.Pod(progress.Pod{Name: e.Pod, Tests: e.Tests, Running: e.Running, Started: e.Started})
	}
	p.onAttempt = func(c plan.Case, a attempt.Attempt) {
		if !started {
			// An operator run whose first attempt came before it was seen Running.
			p.onStart(0, nil)
		}
		r := attemptResult(c, a)
		if c.Base < len(p.baseLabels) {
			r.TestID += " [" + p.baseLabels[c.Base] + "]"
		}
		o.progress.Result(r)
	}
}

// attemptResult is an attempt as the progress printer takes it.
func attemptResult(c plan.Case, a attempt.Attempt) progress.Result {
	tc := a.Results.Testcase
	r := progress.Result{
		TestID:  c.TestID,
		Verdict: progress.Verdict(a.Outcome.Status, tc),
		Attempt: a.Number,
		Pod:     a.Pod,
		Node:    a.Node,
		Reason:  a.Outcome.Reason,
		Message: a.Outcome.Message,
		Output:  a.Results.Output,
		// A disrupted attempt is the infrastructure's, whatever the
		// test's partial report says.
		Disrupted: a.Outcome.Disrupted(),
		FlakyLane: c.Lane == plan.LaneFlaky,
	}
	if !a.Started.IsZero() && a.Finished.After(a.Started) {
		r.Duration = a.Finished.Sub(a.Started)
	}
	if tc != nil {
		if tc.File == "" || tc.File == testid.File(c.TestID) {
			// The pod wrote it; another file than the test's own is
			// dropped, as in the report.
			r.File, r.Line = tc.File, tc.Line
		}
		if d := tc.Duration(); d > 0 {
			// pytest's own time of the test, without the interpreter's start.
			r.Duration = d
		}
		if d := tc.Detail(); d != nil && r.Reason == "" {
			// The full traceback, where pytest wrote one.
			switch {
			case d.Text != "":
				r.Message = d.Text
			case d.Message != "":
				r.Message = d.Message
			}
		}
	}
	return r
}

// summaryOf is the run's closing counts for the printer.
func summaryOf(rep *report.Report, code int) progress.Summary {
	s := progress.Summary{ExitCode: code}
	if rep == nil {
		return s
	}
	s.Counts = rep.Counts()
	for _, cr := range rep.Cases {
		if _, ok := rep.Quarantined(cr); ok {
			s.QuarantinedTests = append(s.QuarantinedTests, cr.Case.TestID)
		}
	}
	s.Wall = rep.Wall
	return s
}

// printSummary writes the run's closing summary, with each test's pod
// time and where all the pods' time went, from the pods' timelines.
func printSummary(w io.Writer, rep *report.Report) {
	cases := rep.SummaryCases()
	for i, cr := range rep.Cases {
		if len(cr.Attempts) > 0 {
			cases[i].PodTime = podTime(cr.Last().Timeline.Phases())
		}
	}
	s := report.Count(cases)
	s.Wall = rep.Wall
	s.Phases = podPhases(rep)
	_ = report.Text(w, s, cases, report.Options{Bases: rep.BaseLabels()})
	printCoverage(w, rep)
	printAPICoverage(w, rep)
}

func podTime(ph attempt.Phases) time.Duration {
	return ph.Pending + ph.Starting + ph.Testing + ph.Collecting
}

// podPhases adds up the phases of every pod the run created, each pod
// once however many tests or attempts it ran.
func podPhases(rep *report.Report) report.Phases {
	var total report.Phases
	seen := map[string]bool{}
	for _, cr := range rep.Cases {
		for _, a := range cr.Attempts {
			if a.Pod == "" || seen[a.Pod] {
				continue
			}
			seen[a.Pod] = true
			ph := a.Timeline.Phases()
			total.Waiting += ph.Pending
			total.Starting += ph.Starting
			total.Testing += ph.Testing
			total.Collecting += ph.Collecting
		}
	}
	return total
}
