// Package progress tells a person, or a tool, how a run is going while it
// runs: on a terminal a live status line redrawn in place, with each failure
// printed in full as it happens; in a pipe or a CI log one plain line per
// finished test, verdict first; for tools one JSON event per line.
//
// It takes its own small types rather than the runner's, so the output is
// tested from plain values with a fake clock; the command converts what the
// runner reports.
package progress

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	utilclock "k8s.io/utils/clock"

	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// The verdict words a finished attempt is printed with. RERUN marks a
// failed attempt that a retry follows, as pytest-rerunfailures prints it.
const (
	Passed  = "PASSED"
	Failed  = "FAILED"
	Error   = "ERROR"
	Skipped = "SKIPPED"
	XFail   = "XFAIL"
	XPass   = "XPASS"
	Flaky   = "FLAKY"
	Rerun   = "RERUN"
)

// Verdict is the word for an attempt that ended with status and, when
// pytest wrote one, its JUnit entry tc. pytest writes an expected failure as
// a skip of type pytest.xfail and a strict unexpected pass as a failure
// whose message starts with [XPASS(strict)]; a non-strict unexpected pass
// leaves no trace in JUnit and reads PASSED.
func Verdict(status junit.Status, tc *junit.Testcase) string {
	switch status {
	case junit.StatusPassed:
		return Passed
	case junit.StatusSkipped:
		if tc != nil && tc.Skipped != nil && tc.Skipped.Type == "pytest.xfail" {
			return XFail
		}
		return Skipped
	case junit.StatusFailed:
		if tc != nil && tc.Failure != nil && strings.HasPrefix(tc.Failure.Message, "[XPASS") {
			return XPass
		}
		return Failed
	default:
		return Error
	}
}

// Start describes the run once its tests are known.
type Start struct {
	RunID string
	Tests int
	// Parallelism is the cap on pods at once; MaxAttempts is 1 + retries.
	Parallelism, MaxAttempts int
	Namespace                string
	// InfraRetries is how often a test whose pod was taken away runs
	// again, apart from MaxAttempts.
	InfraRetries int
	// Expected are the tests' durations in earlier runs (the durations
	// file), by test ID; they weigh the ETA. Empty means the ETA goes by
	// the pace alone.
	Expected map[string]time.Duration
	// FlakyAttempts is how often a test of the flaky lane (Result.Flaky)
	// runs at most, when above MaxAttempts.
	FlakyAttempts int
}

// Result is one finished attempt of one test.
type Result struct {
	TestID string
	// Verdict is the attempt's own word (see Verdict); the printer turns a
	// failure that a retry follows into RERUN, and a pass after a failure
	// into FLAKY.
	Verdict  string
	Duration time.Duration
	Attempt  int
	Pod      string
	Node     string
	// Reason names an infrastructure cause (OOMKilled, DeadlineExceeded,
	// ...); empty for pytest's own verdicts.
	Reason  string
	Message string
	// Disrupted says the infrastructure took the pod away (evicted,
	// preempted, deleted): the attempt is no verdict on the test.
	Disrupted bool
	// FlakyLane says the test is in the flaky lane, whose attempts are
	// Start.FlakyAttempts.
	FlakyLane bool
	// Output is the test's captured stdout and stderr.
	Output string
	File   string
	Line   int
}

// Summary closes the run.
type Summary struct {
	report.Counts
	// QuarantinedTests names the failures a quarantine excused, which
	// count in neither Failed nor Errors.
	QuarantinedTests []string
	Wall             time.Duration
	ExitCode         int
	// Comparison is the run against its base in the history store; nil
	// without one.
	Comparison *history.Comparison
}

// Printer hears of the run's steps. Its methods may be called from more
// than one goroutine.
type Printer interface {
	// Phase says the run entered a step before the tests run, such as
	// "building the test image".
	Phase(what string)
	// Start says the tests are about to run.
	Start(Start)
	// Result reports one finished attempt.
	Result(Result)
	// Pod reports a pod whose test started running, or that ended.
	Pod(Pod)
	// Finish reports the end of the run, and Close releases the printer
	// (stops redrawing, clears the live line) whether or not Finish came.
	Finish(Summary)
	Close()
}

// Pod is a test pod whose test container runs (Running, since Started),
// or that ended.
type Pod struct {
	Name    string
	Tests   []string
	Running bool
	Started time.Time
}

// Formats.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Options configure New.
type Options struct {
	// Format is FormatText (default) or FormatJSON.
	Format string
	// Terminal selects the live status line for text.
	Terminal bool
	// Color adds ANSI colours to the live line and failures; only on a
	// terminal.
	Color bool
	// Verbose leaves the run's steps to the logger: text output keeps the
	// verdict lines only.
	Verbose bool
	// Now is the clock; default time.Now, or Clock's when Clock is set.
	Now func() time.Time
	// Refresh redraws the live line this often, so elapsed time and ETA
	// move between results; zero redraws on events only.
	Refresh time.Duration
	// Clock makes the Refresh ticks; nil means the real clock.
	Clock utilclock.WithTicker
	// MaxFailureLines caps the lines of one failure printed live; zero
	// means 60.
	MaxFailureLines int
}

// New returns the printer for opts, writing to w.
func New(w io.Writer, opts Options) Printer {
	if opts.Clock == nil {
		opts.Clock = utilclock.RealClock{}
	}
	if opts.Now == nil {
		opts.Now = opts.Clock.Now
	}
	if opts.MaxFailureLines <= 0 {
		opts.MaxFailureLines = 60
	}
	t := &tally{attempts: map[string]int{}, failedBefore: map[string]bool{}, disrupted: map[string]int{}, finished: map[string]bool{}}
	switch {
	case opts.Format == FormatJSON:
		return &jsonPrinter{w: w, now: opts.Now, tally: t}
	case opts.Terminal:
		l := &livePrinter{w: w, opts: opts, tally: t, began: opts.Now(), stop: make(chan struct{})}
		if opts.Refresh > 0 {
			l.wg.Add(1)
			go l.tick(opts.Refresh)
		}
		return l
	default:
		return &plainPrinter{w: w, opts: opts, tally: t}
	}
}

// tally follows the run's counts. It is not safe for concurrent use; the
// printers lock around it.
type tally struct {
	start        Start
	started      bool
	startedAt    time.Time
	attempts     map[string]int
	failedBefore map[string]bool
	// disrupted counts each test's disrupted attempts, which take
	// nothing from its MaxAttempts.
	disrupted map[string]int
	// finished holds the tests done, for the ETA.
	finished map[string]bool
	// counts are the tests done.
	counts report.Counts
}

// add counts r and returns it with its final word and whether it is the
// test's last attempt.
func (t *tally) add(r Result) (Result, bool) {
	t.attempts[r.TestID]++
	n := t.attempts[r.TestID]
	if r.Attempt == 0 {
		r.Attempt = n
	}
	if r.Disrupted {
		t.disrupted[r.TestID]++
		if t.disrupted[r.TestID] <= t.start.InfraRetries {
			r.Verdict = Rerun
			return r, false
		}
	}
	failing := r.Verdict == Failed || r.Verdict == Error || r.Verdict == XPass
	attempts := max(t.start.MaxAttempts, 1)
	if r.FlakyLane {
		attempts = max(attempts, t.start.FlakyAttempts)
	}
	if failing && !r.Disrupted && n-t.disrupted[r.TestID] < attempts {
		t.failedBefore[r.TestID] = true
		r.Verdict = Rerun
		return r, false
	}
	if !failing && t.failedBefore[r.TestID] {
		r.Verdict = Flaky
	}
	t.finished[r.TestID] = true
	t.counts.Add(report.Tally{Status: verdictStatus(r.Verdict), Flaky: r.Verdict == Flaky})
	return r, true
}

// verdictStatus is the status a final verdict counts as.
func verdictStatus(v string) junit.Status {
	switch v {
	case Passed, Flaky:
		return junit.StatusPassed
	case Skipped, XFail:
		return junit.StatusSkipped
	case Failed, XPass:
		return junit.StatusFailed
	default:
		return junit.StatusError
	}
}

// failed is the tests done that failed or errored.
func (t *tally) failed() int { return t.counts.Failed + t.counts.Errors }

// running is the pods that are likely running: as many as the cap allows
// for the tests not yet done. The runner does not report pod starts, so
// this is an upper bound rather than a count.
func (t *tally) running() int {
	left := t.start.Tests - t.counts.Total
	return max(0, min(max(t.start.Parallelism, 1), left))
}

// eta is the time left. With the durations of earlier runs it is the
// expected duration of the tests left, scaled by how long the tests done so
// far took against what was expected of them (pods cost more than the test
// alone), and before the first result their expected total over the
// parallelism. Without them it is the pace so far. False when there is no
// estimate yet.
func (t *tally) eta(now time.Time) (time.Duration, bool) {
	if !t.started {
		return 0, false
	}
	left := t.start.Tests - t.counts.Total
	if left <= 0 && t.counts.Total > 0 {
		return 0, true
	}
	if exp := t.start.Expected; len(exp) > 0 && t.start.Tests > 0 {
		var known time.Duration
		for _, d := range exp {
			known += d
		}
		mean := known / time.Duration(len(exp))
		var doneExp time.Duration
		for id := range t.finished {
			if d, ok := exp[id]; ok {
				doneExp += d
			} else {
				doneExp += mean
			}
		}
		leftExp := mean*time.Duration(t.start.Tests) + (known - mean*time.Duration(len(exp))) - doneExp
		switch {
		case t.counts.Total == 0:
			return leftExp / time.Duration(max(t.start.Parallelism, 1)), true
		case doneExp > 0:
			ratio := float64(now.Sub(t.startedAt)) / float64(doneExp)
			return time.Duration(ratio * float64(max(leftExp, 0))), true
		}
	}
	if t.counts.Total == 0 {
		return 0, false
	}
	per := now.Sub(t.startedAt) / time.Duration(t.counts.Total)
	return per * time.Duration(left), true
}

// plainPrinter writes one line per finished test, for pipes and CI logs.
type plainPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	opts  Options
	tally *tally
}

func (p *plainPrinter) Phase(what string) {
	if p.opts.Verbose {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "k8s-testrun: %s\n", what)
}

func (p *plainPrinter) Start(s Start) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tally.start, p.tally.started, p.tally.startedAt = s, true, p.opts.Now()
	if !p.opts.Verbose {
		fmt.Fprintf(p.w, "k8s-testrun: running %s, %s at once (run %s)\n", plural(s.Tests, "test"), plural(max(s.Parallelism, 1), "pod"), s.RunID)
	}
}

func (p *plainPrinter) Result(r Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, _ = p.tally.add(r)
	fmt.Fprintln(p.w, Line(r))
}

func (p *plainPrinter) Pod(Pod)        {}
func (p *plainPrinter) Finish(Summary) {}
func (p *plainPrinter) Close()         {}

// Line is the plain line of a finished attempt: verdict, test id, duration
// and attempt, then the reason and the pod when it did not pass.
func Line(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %s  %s  attempt %d", r.Verdict, clean(r.TestID), seconds(r.Duration), max(r.Attempt, 1))
	switch r.Verdict {
	case Failed, Error, XPass, Rerun:
		if r.Reason != "" {
			fmt.Fprintf(&b, "  %s", clean(r.Reason))
		}
		if r.Pod != "" {
			fmt.Fprintf(&b, "  pod %s", clean(r.Pod))
		}
	}
	return b.String()
}

// livePrinter keeps a status line at the bottom of a terminal.
type livePrinter struct {
	mu    sync.Mutex
	w     io.Writer
	opts  Options
	tally *tally
	began time.Time
	phase string
	// shown says a status line is on screen.
	shown bool
	// pods are the pods whose tests run, by name, once any was heard of.
	pods   map[string]Pod
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

func (l *livePrinter) tick(every time.Duration) {
	defer l.wg.Done()
	t := l.opts.Clock.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C():
			l.Redraw()
		}
	}
}

func (l *livePrinter) Phase(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase = what
	l.draw()
}

func (l *livePrinter) Start(s Start) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tally.start, l.tally.started, l.tally.startedAt = s, true, l.opts.Now()
	l.phase = ""
	l.clear()
	fmt.Fprintf(l.w, "running %s, %s at once (run %s)\n", plural(s.Tests, "test"), plural(max(s.Parallelism, 1), "pod"), s.RunID)
	l.draw()
}

func (l *livePrinter) Result(r Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, _ = l.tally.add(r)
	switch r.Verdict {
	case Failed, Error, XPass, Rerun:
		l.clear()
		l.failure(r)
	}
	l.draw()
}

// Redraw brings the status line up to date with the clock.
func (l *livePrinter) Redraw() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.draw()
}

// Pod keeps the running pods for the status line.
func (l *livePrinter) Pod(p Pod) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pods == nil {
		l.pods = map[string]Pod{}
	}
	if p.Running {
		l.pods[p.Name] = p
	} else {
		delete(l.pods, p.Name)
	}
	l.draw()
}

// slowestRunning names the n pods whose tests have run longest, with how
// long, e.g. "tests/test_a.py::test_x 1:05".
func (l *livePrinter) slowestRunning(now time.Time, n int) []string {
	pods := make([]Pod, 0, len(l.pods))
	for _, p := range l.pods {
		pods = append(pods, p)
	}
	sort.Slice(pods, func(i, j int) bool {
		if !pods[i].Started.Equal(pods[j].Started) {
			return pods[i].Started.Before(pods[j].Started)
		}
		return pods[i].Name < pods[j].Name
	})
	var out []string
	for _, p := range pods[:min(n, len(pods))] {
		what := p.Name
		if len(p.Tests) > 0 {
			what = p.Tests[0]
			if len(p.Tests) > 1 {
				what += fmt.Sprintf(" +%d", len(p.Tests)-1)
			}
		}
		out = append(out, cut(clean(what), 48)+" "+clock(now.Sub(p.Started)))
	}
	return out
}

func (l *livePrinter) Finish(Summary) { l.Close() }

func (l *livePrinter) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.stop)
	l.clear()
	l.mu.Unlock()
	l.wg.Wait()
}

// clear erases the status line, leaving the cursor at its start.
func (l *livePrinter) clear() {
	if l.shown {
		io.WriteString(l.w, "\r\x1b[K")
		l.shown = false
	}
}

func (l *livePrinter) draw() {
	if l.closed {
		return
	}
	now := l.opts.Now()
	var line string
	if !l.tally.started {
		if l.phase == "" {
			return
		}
		line = fmt.Sprintf("%s... %s", l.phase, clock(now.Sub(l.began)))
	} else {
		t := l.tally
		running := t.running()
		if l.pods != nil {
			running = len(l.pods)
		}
		line = fmt.Sprintf("[%d/%d] %s, %s, %d running | %s elapsed",
			t.counts.Total, t.start.Tests,
			l.color(fmt.Sprintf("%d passed", t.counts.Passed), green, t.counts.Passed > 0),
			l.color(fmt.Sprintf("%d failed", t.failed()), red, t.failed() > 0),
			running, clock(now.Sub(t.startedAt)))
		if eta, ok := t.eta(now); ok {
			line += ", ETA " + clock(eta)
		}
		if slow := l.slowestRunning(now, 2); len(slow) > 0 {
			line += " | slowest: " + strings.Join(slow, ", ")
		}
	}
	io.WriteString(l.w, "\r\x1b[K"+line)
	l.shown = true
}

// failure prints a failed attempt in full, above the status line.
func (l *livePrinter) failure(r Result) {
	head := Line(r)
	if r.File != "" {
		if r.Line > 0 {
			head += fmt.Sprintf("  at %s:%d", clean(r.File), r.Line)
		} else {
			head += "  at " + clean(r.File)
		}
	}
	fmt.Fprintln(l.w, l.color(head, red, true))
	budget := l.opts.MaxFailureLines
	body := func(title, text string) {
		lines := textLines(text)
		if len(lines) == 0 || budget <= 0 {
			return
		}
		if title != "" {
			fmt.Fprintf(l.w, "    --- %s ---\n", title)
		}
		shown := lines[:min(len(lines), budget)]
		for _, s := range shown {
			fmt.Fprintf(l.w, "    %s\n", s)
		}
		budget -= len(shown)
		if more := len(lines) - len(shown); more > 0 {
			fmt.Fprintf(l.w, "    ... %d more %s\n", more, word(more, "line"))
		}
	}
	body("", r.Message)
	if r.Message == "" {
		// With no message (the pod died before pytest said anything) the
		// test process's own output is the best clue; with one, it only
		// repeats pytest's report.
		body("output", r.Output)
	}
}

const (
	green = "\x1b[32m"
	red   = "\x1b[31m"
	reset = "\x1b[0m"
)

func (l *livePrinter) color(s, c string, on bool) string {
	if !l.opts.Color || !on {
		return s
	}
	return c + s + reset
}

// textLines splits text into cleaned lines without trailing blank ones.
func textLines(text string) []string {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n ")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	for i, s := range lines {
		lines[i] = strings.TrimRight(clean(cut(s, maxLineBytes)), " ")
	}
	return lines
}

// Caps on what one failure prints: a test can fail with a message of any
// size, and neither a terminal nor a JSON consumer should take it whole.
const (
	maxLineBytes    = 1000
	maxMessageBytes = 64 << 10
)

// cut shortens s to at most n bytes, on a rune boundary, saying how much
// was dropped.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + fmt.Sprintf(" ... (%d more bytes)", len(s)-i)
}

// clean replaces control characters other than tab, so a test's text
// cannot move the cursor, colour the terminal or end a line early.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return '?'
	}, s)
}

func plural(n int, what string) string { return fmt.Sprintf("%d %s", n, word(n, what)) }

func word(n int, what string) string {
	if n == 1 {
		return what
	}
	return what + "s"
}

// seconds is a duration as a person reads a test's: 0.42s, 12.3s, 2m05s.
func seconds(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return clock(d)
	}
}

// clock is m:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}
