package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/ghaction"
	"github.com/k8s-testrun/k8s-testrun/internal/github"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/kind"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// Budgets of the reporting that follows a run. GitHub sends SIGINT on
// cancellation and kills the step about ten seconds later; the pods'
// cleanup takes the first share of that, the check run's completion what
// is left.
const (
	reportTimeout          = 2 * time.Minute
	createCheckTimeout     = time.Minute
	afterCancelReportUntil = 9 * time.Second
)

// summaryGanttPods is how many of the slowest pods the job summary's
// gantt shows.
const summaryGanttPods = 10

// actionCommand is the GitHub Action: inputs from INPUT_*, the run's
// progress in log groups, results as a check run with annotations, a job
// summary, step outputs and the JUnit file.
func actionCommand(ctx context.Context, args []string, env Env) (int, error) {
	if len(args) > 0 {
		return ExitInfra, fmt.Errorf("action takes no arguments; it reads its inputs from the INPUT_* variables the runner sets")
	}
	var cancelledAt atomic.Pointer[time.Time]
	stop := context.AfterFunc(ctx, func() { t := time.Now(); cancelledAt.Store(&t) })
	defer stop()

	wf := ghaction.NewWorkflow(env.Stdout, env.Getenv)
	cfg, set, inErr := ghaction.Read(env.Getenv)
	// Masks go first, before anything could print a secret.
	wf.Mask(set.Token)
	for _, s := range ghaction.KubeconfigSecrets(cfg.KubeconfigData, set.Workspace) {
		wf.Mask(s)
	}
	for _, s := range ghaction.KubeconfigFileSecrets(cfg.Kubeconfig) {
		wf.Mask(s)
	}

	a := &action{env: env, wf: wf, cfg: cfg, set: set, start: time.Now()}
	a.log = logger(wf.Log(), cfg.Verbose)
	if inErr != nil {
		for _, e := range config.Unjoin(inErr) {
			wf.Error("k8s-testrun: input " + e.Error())
		}
		a.finish(context.Background(), nil, inErr, false)
		return ExitInfra, fmt.Errorf("invalid inputs: %w", inErr)
	}
	if a.gh, inErr = ghaction.ReadContext(env.Getenv); inErr != nil {
		wf.Warning("k8s-testrun: " + inErr.Error())
	}
	if a.cfg.History != "" && a.gh.BaseSHA != "" {
		a.cfg.CompareDefaults = append([]string{a.gh.BaseSHA}, a.cfg.CompareDefaults...)
	}
	bin, err := podBinary(cfg.Binary, env)
	if err != nil {
		return ExitInfra, err
	}
	cfg.Binary, a.cfg.Binary = bin, bin

	wf.Group("Creating the check run")
	a.startCheck(ctx)
	wf.Group("Checking the cluster")
	rep, runErr := a.run(ctx)
	wf.EndGroup()

	rctx, cancel := reportContext(ctx, cancelledAt.Load)
	defer cancel()
	code := a.finish(rctx, rep, runErr, ctx.Err() != nil)
	if code == ExitOK {
		// fail_on let the problem pass; it is annotated already.
		return code, nil
	}
	return code, runErr
}

type action struct {
	env   Env
	wf    *ghaction.Workflow
	log   *slog.Logger
	cfg   config.Config
	set   ghaction.Settings
	gh    ghaction.Context
	start time.Time
	image string

	checks *github.Client
	check  *github.CheckRun
	// noCheck says why results go to workflow-command annotations instead
	// of a check run; said once, in the log and in the summary.
	noCheck string
	// mem is what the history store said of the run; nil without one.
	mem *recall
	// affectedNote says how many tests --affected-since left out.
	affectedNote string
	// planNote says what pod_per auto chose.
	planNote string
}

// startCheck creates the check run in progress. Any failure falls back to
// annotations from the step itself: reporting must never fail a test step.
func (a *action) startCheck(ctx context.Context) {
	switch {
	case a.set.Token == "":
		a.fallback("the token input is empty, so no check run was created")
		return
	case a.gh.Repository == "" || a.gh.HeadSHA == "":
		a.fallback("GITHUB_REPOSITORY or the commit is unknown, so no check run was created")
		return
	}
	c, err := github.New(github.Options{Token: a.set.Token, Repository: a.gh.Repository, APIURL: a.gh.APIURL, Logger: a.log})
	if err != nil {
		a.fallback(err.Error())
		return
	}
	cctx, cancel := context.WithTimeout(ctx, createCheckTimeout)
	defer cancel()
	run, err := c.CreateCheckRun(cctx, github.NewCheckRun{
		Name: a.set.CheckName, HeadSHA: a.gh.HeadSHA, DetailsURL: a.gh.RunURL,
		Title: "Running", Summary: "k8s-testrun is building the test image and running the tests.",
	})
	switch {
	case errors.Is(err, github.ErrNotPermitted):
		why := "this workflow's token cannot write checks"
		if a.gh.Fork {
			why = "this pull request comes from a fork, and GitHub gives its workflows a read-only token"
		}
		a.fallback(fmt.Sprintf("No check run: %s (GitHub: %s). The results are in this job summary and in annotations from this step; "+
			"GitHub shows at most 10 of them per step.", why, oneLine(err)))
	case err != nil:
		a.fallback(fmt.Sprintf("No check run: %s. The results are in this job summary and in annotations from this step.", oneLine(err)))
	default:
		a.checks, a.check = c, run
		a.log.Info("created check run", "name", run.Name, "url", run.URL, "sha", a.gh.HeadSHA)
	}
}

func (a *action) fallback(why string) {
	a.noCheck = why
	a.wf.Warning("k8s-testrun: " + why)
}

// run is the shared pipeline with the action's log groups: one per phase,
// and one per test attempt with the test's output fenced.
func (a *action) run(ctx context.Context) (*report.Report, error) {
	if line := nothingToRerun(a.cfg); line != "" {
		fmt.Fprintln(a.wf.Log(), line)
		return report.NewReport("", "", "", a.start, time.Since(a.start), nil), nil
	}
	// A container action sits on another Docker network than kind's
	// nodes and registry.
	cfg, onKind, err := reachKind(ctx, a.cfg, kind.Options{Getenv: a.env.Getenv, Logger: a.log})
	if err != nil {
		return nil, err
	}
	p, err := newPipeline(cfg, a.log, a.env.environ())
	var kerr *k8s.ConfigError
	if errors.As(err, &kerr) {
		// Named as the action's user gave it, not as the CLI's flag.
		input := ghaction.InputKubeconfig
		if len(cfg.KubeconfigData) == 0 {
			input = ghaction.EnvKubeconfig
		}
		ce := &config.Error{Input: input, Fix: "cannot be used: " + oneLine(kerr.Err)}
		a.wf.Error("k8s-testrun: input " + ce.Error())
		return nil, ce
	}
	if err != nil {
		return nil, err
	}
	p.onKindNetwork = onKind
	p.stderr = fencedWriter{a.wf, "pytest output"}
	p.onPhase = func(phase string) {
		switch phase {
		case phaseBuild:
			a.wf.Group("Building the test image")
		case phaseDiscover:
			a.image = p.image.Image
			a.wf.Group("Discovering the tests")
		case phaseRun:
			// Each test's output gets a group of its own; the runner does
			// not nest groups.
			a.wf.EndGroup()
		}
	}
	p.onAttempt = func(c plan.Case, at attempt.Attempt) {
		a.wf.Fenced(attemptTitle(c, at, a.cfg.Retries+1), at.Results.Output)
	}
	rep, err := p.execute(ctx)
	if p.image.Image != "" {
		a.image = p.image.Image
	}
	mem, herr := remember(ctx, cfg, rep, err, p.facts())
	a.mem, a.affectedNote, a.planNote = mem, p.affectedNote, p.planNote
	return rep, cmpOrErr(err, herr)
}

var statusIcons = map[plan.Status]string{
	plan.Passed: "✅", plan.Failed: "❌", plan.Error: "💥", plan.Skipped: "⏭️",
}

func attemptTitle(c plan.Case, at attempt.Attempt, maxAttempts int) string {
	o := at.Outcome
	t := fmt.Sprintf("%s %s %s", statusIcons[o.Status], strings.ToUpper(string(o.Status)), c.TestID)
	var extra []string
	// pytest's own time is precise; the container's is in whole seconds.
	switch {
	case at.Results.Testcase != nil && at.Results.Testcase.Time != "":
		extra = append(extra, at.Results.Testcase.Duration().Round(time.Millisecond).String())
	case !at.Finished.IsZero() && !at.Started.IsZero():
		extra = append(extra, at.Finished.Sub(at.Started).String())
	}
	switch {
	case at.Number > maxAttempts:
		// Infrastructure retries run past the test's attempts.
		extra = append(extra, fmt.Sprintf("attempt %d", at.Number))
	case maxAttempts > 1:
		extra = append(extra, fmt.Sprintf("attempt %d of %d", at.Number, maxAttempts))
	}
	if o.Reason != "" {
		extra = append(extra, o.Reason)
	}
	if o.Disrupted() {
		extra = append(extra, "pod taken away")
	}
	if len(extra) > 0 {
		t += " (" + strings.Join(extra, ", ") + ")"
	}
	return t
}

// fencedWriter prints each write fenced: it carries text from the tests,
// such as pytest's collection output.
type fencedWriter struct {
	wf    *ghaction.Workflow
	title string
}

func (f fencedWriter) Write(p []byte) (int, error) {
	f.wf.Fenced(f.title, string(p))
	return len(p), nil
}

// finish reports the run every way the action does, and returns the exit
// code fail_on asks for. Local files come first: under cancellation the
// time left may not cover the check run's completion.
func (a *action) finish(ctx context.Context, rep *report.Report, runErr error, cancelled bool) int {
	if rep == nil && runErr != nil && !isInputError(runErr) {
		// The run ended before any test: an empty report still gives the
		// upload step a file.
		empty := report.NewReport("", a.image, "", a.start, time.Since(a.start), nil)
		if err := writeJUnit(a.cfg.JUnitPath, empty); err != nil {
			a.log.Error("writing the JUnit report", "error", err)
		}
	}
	s, tests, gantt := a.summarize(rep, runErr, cancelled)
	conclusion, code := verdict(rep, runErr, cancelled, a.set.FailOn)
	if a.set.FailOn == ghaction.FailOnNewFailures && code == ExitTestsFailed && a.mem.exitCode(config.FailOnNewFailures, code) == ExitOK {
		conclusion, code = github.ConclusionNeutral, ExitOK
	}

	if err := a.wf.SetOutputs(ghaction.StepOutputs(rep, a.set.JUnitPath, a.image, s.CheckURL)); err != nil {
		a.log.Warn("writing the step outputs", "error", err)
	}
	if err := a.wf.AddSummary(s.Markdown(ghaction.MaxJobSummary-len(gantt)) + gantt); err != nil {
		a.log.Warn("writing the job summary", "error", err)
	}

	a.annotate(ctx, s, tests, conclusion)
	return code
}

// summarize builds the job summary of the run, with the gantt of its
// slowest pods to append, and says on the workflow's log what the summary
// says: the text summary, the run's error, expired quarantine entries.
func (a *action) summarize(rep *report.Report, runErr error, cancelled bool) (ghaction.Summary, []ghaction.Test, string) {
	tests := ghaction.Tests(rep, a.set.ProjectPrefix)
	s := ghaction.Summary{
		Tests: tests, CheckName: a.set.CheckName, Image: a.image, JUnitPath: a.set.JUnitPath,
		Cancelled: cancelled, Context: a.gh, Notes: a.mem.notes(),
	}
	if a.affectedNote != "" {
		s.Notes = append(s.Notes, a.affectedNote)
	}
	if a.planNote != "" {
		s.Notes = append(s.Notes, a.planNote)
	}
	if a.mem != nil {
		s.Comparison, s.Ready = a.mem.Comparison, a.mem.Ready
		for i := range tests {
			tests[i].NewFailure = a.mem.Comparison.IsNewFailure(history.TestOf(tests[i].Case).ID)
		}
	}
	if rep != nil {
		s.Counts, s.Wall = rep.Counts(), rep.Wall
		s.Coverage = rep.Coverage
		s.APICoverage = rep.APICoverage
		s.Lanes = report.LaneLines(rep.SummaryCases())
		s.Bases = rep.BaseLabels()
		var text strings.Builder
		printSummary(&text, rep)
		a.mem.print(&text)
		a.wf.Fenced("Summary", text.String())
	}
	// The slowest pods as a Mermaid gantt, which GitHub renders in a job
	// summary; it takes its room from the summary's limit, so the summary
	// is still trimmed whole.
	var gantt string
	if rep != nil {
		if g := chartOf(rep).Mermaid(summaryGanttPods); g != "" {
			gantt = "\n" + g
		}
	}
	if runErr != nil && !cancelled {
		s.Problem = oneLine(runErr)
		if !isInputError(runErr) {
			a.wf.Error("k8s-testrun: " + s.Problem)
		}
	}
	if a.check != nil {
		s.CheckURL = a.check.URL
	}
	if a.noCheck != "" {
		s.Notes = append(s.Notes, a.noCheck)
	}
	if rep != nil {
		// An expired entry excuses nothing any more: said where the
		// workflow shows warnings, and in the summary.
		for _, l := range rep.ExpiredQuarantine() {
			a.wf.Warning("k8s-testrun: " + l)
			s.Notes = append(s.Notes, l)
		}
	}
	if rep != nil && rep.Counts().Stopped > 0 {
		s.Notes = append(s.Notes, stoppedNote(rep.Counts().Stopped, a.cfg.MaxFailures))
	}
	return s, tests, gantt
}

// annotate completes the check run with the tests' annotations or, without
// a check run, writes them from this step.
func (a *action) annotate(ctx context.Context, s ghaction.Summary, tests []ghaction.Test, conclusion string) {
	annotations := ghaction.Annotations(tests)
	if a.check != nil {
		err := a.checks.Complete(ctx, a.check, github.Result{
			Conclusion: conclusion, Title: s.Title(),
			Summary: s.Markdown(github.MaxSummary), Annotations: annotations,
		})
		if err == nil {
			a.log.Info("completed check run", "conclusion", conclusion, "annotations", len(annotations), "url", a.check.URL)
			return
		}
		a.wf.Warning("k8s-testrun: the check run could not be completed: " + oneLine(err) + "; the annotations follow from this step")
	}
	for _, an := range annotations {
		a.wf.Annotate(an)
	}
}

// verdict is the check run's conclusion and the step's exit code. fail_on
// decides which results fail the step; a result it lets pass still shows
// as a neutral check rather than a green one.
func verdict(rep *report.Report, runErr error, cancelled bool, failOn string) (string, int) {
	if cancelled {
		return github.ConclusionCancelled, ExitInfra
	}
	code := ExitInfra
	if rep != nil && runErr == nil {
		code = rep.ExitCode(ExitOK, ExitTestsFailed, ExitInfra)
	}
	step := code
	switch {
	case isInputError(runErr) || isRequirementsError(runErr):
		// Bad inputs fail the step whatever fail_on says: nothing was
		// tested.
	case failOn == ghaction.FailOnNever:
		step = ExitOK
	case failOn == ghaction.FailOnErrors && code == ExitTestsFailed:
		step = ExitOK
	}
	switch {
	case step != ExitOK:
		return github.ConclusionFailure, step
	case code != ExitOK:
		return github.ConclusionNeutral, step
	default:
		return github.ConclusionSuccess, step
	}
}

func isInputError(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce)
}

// isRequirementsError tells a requirements file with a line k8s-testrun
// refuses, which no fail_on setting should let pass: nothing was tested.
func isRequirementsError(err error) bool {
	var re *build.RequirementsError
	return errors.As(err, &re)
}

// reportContext bounds the reporting: normally by reportTimeout, after a
// cancellation by what is left of GitHub's grace period.
func reportContext(ctx context.Context, cancelledAt func() *time.Time) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(reportTimeout)
	if at := cancelledAt(); at != nil {
		deadline = at.Add(afterCancelReportUntil)
		if least := time.Now().Add(time.Second); deadline.Before(least) {
			deadline = least
		}
	}
	return context.WithDeadline(context.WithoutCancel(ctx), deadline)
}

var _ io.Writer = fencedWriter{}
