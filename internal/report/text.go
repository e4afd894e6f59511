// Package report owns the result model of a finished (or interrupted) run:
// the Report of its cases and their attempts, the counts, the merged JUnit,
// the attempts file, the artifacts written to disk, and the terminal
// summary: every failure and error with its message and location, the
// flaky tests, then the numbers a person reads first: the slowest tests
// with their pod time and test time, the wall time and tests per second,
// where the pods' time went, and the counts.
//
// The summary takes its own small Case type rather than the Report's, so
// the text can be tested from plain values; SummaryCases converts.
package report

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
)

// Case is the final result of one test id.
type Case struct {
	TestID string
	Status junit.Status
	// Message is the failure or error message, or the skip reason.
	Message string
	// File and Line locate the test; Line is 1-based, 0 when unknown.
	File     string
	Line     int
	Duration time.Duration
	// PodTime is the life of the test's last pod, from its creation to its
	// removal; zero when unknown. In a pod of several tests, they share it.
	PodTime time.Duration
	// Attempts is the number of pods run for the test.
	Attempts int
	// Flaky marks a test that failed and then passed on a retry.
	Flaky bool
	// Reason names the infrastructure cause of an error, such as OOMKilled,
	// DeadlineExceeded or Unschedulable; empty for pytest's own errors.
	Reason string
	// NotRun marks a test that never ran: the run was cancelled, or it
	// stopped at its maximum of failures. It counts apart from errors.
	NotRun bool
	// Disruptions are the attempts the infrastructure took away (evicted,
	// preempted, deleted), each run again or, the last, reported as an
	// infrastructure error.
	Disruptions []Disruption
	// Quarantined describes the quarantine entry that excused the test's
	// failure or error (reason, until, owner); empty when none did. Such
	// a test counts apart from failures and errors.
	Quarantined string
	// NotAffected marks a test --affected-since left out; it counts apart
	// from the skipped ones.
	NotAffected bool
	// Lane is the test's marker lane (serial, slow, flaky, disruptive);
	// empty for the default one.
	Lane string
	// Base names the base image the test ran on in a runtime matrix
	// (Options.Bases); empty outside one.
	Base string
}

// Disruption is one attempt whose pod the infrastructure took away.
type Disruption struct {
	Attempt int
	Reason  string
	// Start and End are RFC 3339; empty when unknown.
	Start, End string
	Pod        string
}

// Summary holds the counts of a run and its wall time.
type Summary struct {
	Counts
	Wall time.Duration
	// Phases is the time all the run's pods spent in each phase of their
	// lives; zero when unknown.
	Phases Phases
}

// Phases splits pod time into what a person asks of it: waiting to be
// scheduled, starting (image pull, sandbox, containers), testing, and
// collecting the results and removing the pod.
type Phases struct {
	Waiting, Starting, Testing, Collecting time.Duration
}

// Total is the sum of the phases.
func (p Phases) Total() time.Duration { return p.Waiting + p.Starting + p.Testing + p.Collecting }

// Count tallies cases. Wall is left for the caller, and so are Stopped and
// Infra, which the exit code goes by and which Report.Counts gives.
func Count(cases []Case) Summary {
	var s Summary
	for _, c := range cases {
		s.Add(Tally{Status: c.Status, NotRun: c.NotRun, Flaky: c.Flaky, Quarantined: c.Quarantined != "", NotAffected: c.NotAffected})
	}
	return s
}

// Options are Text's optional settings.
type Options struct {
	// Slowest is how many of the slowest tests to list; zero means 5, a
	// negative number none.
	Slowest int
	// MessageLines is how many lines of each message to show; zero means 5.
	MessageLines int
	// Bases name the base images of a runtime matrix, in the run's
	// order; with more than one, Text adds the matrix: counts per base and
	// the tests whose verdict differs between bases.
	Bases []string
}

// Text writes the summary to w. Cases are listed in test id order, whatever
// order they finished in.
func Text(w io.Writer, s Summary, cases []Case, opts Options) error {
	if opts.Slowest == 0 {
		opts.Slowest = 5
	}
	if opts.MessageLines <= 0 {
		opts.MessageLines = 5
	}
	cases = slices.SortedFunc(slices.Values(cases), func(a, b Case) int {
		return cmp.Or(strings.Compare(a.TestID, b.TestID), cmp.Compare(slices.Index(opts.Bases, a.Base), slices.Index(opts.Bases, b.Base)))
	})
	p := &printer{w: w}

	p.verdictSections(cases, opts.MessageLines)
	p.disruptions(cases)
	if lines := LaneLines(cases); len(lines) > 0 {
		p.section("lanes")
		for _, l := range lines {
			p.printf("%s\n", l)
		}
	}
	if len(opts.Bases) > 1 {
		p.section("runtime matrix")
		for _, l := range MatrixLines(cases, opts.Bases) {
			p.printf("%s\n", sanitize(l))
		}
	}
	if slow := slowest(cases, opts.Slowest); len(slow) > 0 {
		p.section(fmt.Sprintf("slowest %d tests", len(slow)))
		p.printf("%9s %9s\n", "pod time", "test time")
		for _, c := range slow {
			p.printf("%9s %9s  %s\n", secondsOrDash(c.PodTime), secondsOrDash(c.Duration), sanitize(c.Name()))
		}
	}
	if p.n > 0 {
		p.printf("\n")
	}
	if s.Total > 0 {
		p.printf("%s\n", rateLine(s))
	}
	if line := phaseLine(s.Phases); line != "" {
		p.printf("%s\n", line)
	}
	p.printf("%s\n", closingLine(s))
	return p.err
}

// verdictSections prints the sections of failures and errors,
// quarantined tests and flaky tests.
func (p *printer) verdictSections(cases []Case, messageLines int) {
	var problems, flaky, quarantined []Case
	for _, c := range cases {
		switch {
		case c.NotRun:
		case c.Quarantined != "":
			quarantined = append(quarantined, c)
		case c.Status == junit.StatusFailed || c.Status == junit.StatusError:
			problems = append(problems, c)
		case c.Flaky:
			flaky = append(flaky, c)
		}
	}
	if len(problems) > 0 {
		p.section("failures and errors")
		for _, c := range problems {
			p.problem(c, messageLines)
		}
	}
	if len(quarantined) > 0 {
		p.section("quarantined (their failures do not fail the run)")
		for _, c := range quarantined {
			p.problem(c, messageLines)
		}
	}
	if len(flaky) > 0 {
		p.section("flaky tests")
		for _, c := range flaky {
			p.printf("FLAKY  %s  passed on attempt %d%s\n", sanitize(c.Name()), c.Attempts, location(c))
		}
	}
}

// disruptions prints the section of the tests' infrastructure retries.
func (p *printer) disruptions(cases []Case) {
	var disrupted []Case
	for _, c := range cases {
		if len(c.Disruptions) > 0 {
			disrupted = append(disrupted, c)
		}
	}
	if len(disrupted) > 0 {
		p.section("infrastructure retries")
		for _, c := range disrupted {
			for _, d := range c.Disruptions {
				p.printf("RETRY  %s  attempt %d  %s  pod %s  %s to %s\n", sanitize(c.Name()), d.Attempt, sanitize(d.Reason),
					sanitize(d.Pod), orDash(d.Start), orDash(d.End))
			}
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// rateLine is the wall time and the tests run per second; tests that
// never ran, or that --affected-since left out, do not count.
func rateLine(s Summary) string {
	ran := s.Total - s.NotRun - s.NotAffected
	rate := "-"
	if s.Wall > 0 {
		rate = fmt.Sprintf("%.2f", float64(ran)/s.Wall.Seconds())
	}
	return fmt.Sprintf("wall time %s for %d %s: %s tests/s", s.Wall.Round(100*time.Millisecond), ran, plural(ran, "test"), rate)
}

// phaseLine says where the pods' time went, e.g. "time in pods: 12%
// waiting, 31% starting, 52% testing, 5% collecting (4m10s in all)".
func phaseLine(ph Phases) string {
	total := ph.Total()
	if total <= 0 {
		return ""
	}
	pct := func(d time.Duration) int { return int(math.Round(100 * float64(d) / float64(total))) }
	return fmt.Sprintf("time in pods: %d%% waiting, %d%% starting, %d%% testing, %d%% collecting (%s in all)",
		pct(ph.Waiting), pct(ph.Starting), pct(ph.Testing), pct(ph.Collecting), total.Round(100*time.Millisecond))
}

func secondsOrDash(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func plural(n int, what string) string {
	if n == 1 {
		return what
	}
	return what + "s"
}

func (p *printer) problem(c Case, maxLines int) {
	p.printf("%s\n", sanitize(Headline(c, Aligned)))
	if c.Quarantined != "" {
		// The quarantine file is the project's: its words are defused too.
		p.printf("    quarantined: %s\n", clipLine(sanitize(logtext.Line(c.Quarantined)), maxLineBytes))
	}

	// The message is the test's own text; it may print where a CI runner
	// reads commands, so every line of it is defused.
	message := logtext.Lines(c.Message)
	lines := strings.Split(strings.TrimRight(sanitize(message), "\n "), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return
	}
	for _, l := range lines[:min(len(lines), maxLines)] {
		p.printf("    %s\n", clipLine(strings.TrimRight(l, " "), maxLineBytes))
	}
	switch more := len(lines) - maxLines; {
	case more == 1:
		p.printf("    ... 1 more line\n")
	case more > 1:
		p.printf("    ... %d more lines\n", more)
	}
}

// maxLineBytes bounds each printed line of a message, so that one failure
// prints at most a few kilobytes whatever its message.
const maxLineBytes = 500

// clipLine cuts l to max bytes at a character boundary, noting the rest.
func clipLine(l string, max int) string {
	if len(l) <= max {
		return l
	}
	n := max
	for n > 0 && !utf8.RuneStart(l[n]) {
		n--
	}
	return fmt.Sprintf("%s… (%d more bytes)", l[:n], len(l)-n)
}

// location is "  at file:line", or less when less is known.
func location(c Case) string {
	switch {
	case c.File == "":
		return ""
	case c.Line > 0:
		return fmt.Sprintf("  at %s:%d", sanitize(c.File), c.Line)
	default:
		return "  at " + sanitize(c.File)
	}
}

func slowest(cases []Case, n int) []Case {
	if n < 0 {
		return nil
	}
	// By pod time, what a test costs the run, where it is known.
	cost := func(c Case) time.Duration { return max(c.PodTime, c.Duration) }
	var timed []Case
	for _, c := range cases {
		if cost(c) > 0 {
			timed = append(timed, c)
		}
	}
	slices.SortStableFunc(timed, func(a, b Case) int { return cmp.Compare(cost(b), cost(a)) })
	return timed[:min(n, len(timed))]
}

// closingLine is pytest's closing line with k8s-testrun's counts, e.g.
// "1 failed, 10 passed, 2 skipped, 1 error, 1 flaky in 1m13.4s (15 tests)".
func closingLine(s Summary) string {
	parts := countParts(s)
	wall := s.Wall.Round(100 * time.Millisecond).String()
	if len(parts) == 0 {
		return "no tests ran in " + wall
	}
	return fmt.Sprintf("%s in %s (%s)", strings.Join(parts, ", "), wall, testsWord(s.Total))
}

func testsWord(n int) string {
	if n == 1 {
		return "1 test"
	}
	return fmt.Sprintf("%d tests", n)
}

// countParts are the closing line's counts, e.g. "1 failed", "10 passed".
func countParts(s Summary) []string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{
		{s.Failed, "failed"},
		{s.Passed, "passed"},
		{s.Skipped, "skipped"},
		{s.Errors, "error"},
		{s.Flaky, "flaky"},
		{s.NotRun, "not run"},
		{s.Quarantined, "quarantined"},
		{s.NotAffected, "not affected"},
	} {
		if c.n == 0 {
			continue
		}
		what := c.what
		if what == "error" && c.n > 1 {
			what = "errors"
		}
		parts = append(parts, fmt.Sprintf("%d %s", c.n, what))
	}
	return parts
}

// sanitize replaces control characters other than newline and tab, so test
// output cannot drive the terminal (colours, cursor movement, bells).
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return '?'
	}, s)
}

// printer keeps the first write error.
type printer struct {
	w   io.Writer
	err error
	n   int
}

func (p *printer) printf(format string, args ...any) {
	if p.err != nil {
		return
	}
	n, err := fmt.Fprintf(p.w, format, args...)
	p.n += n
	p.err = err
}

// section writes a heading, preceded by a blank line unless it comes first.
func (p *printer) section(title string) {
	if p.n > 0 {
		p.printf("\n")
	}
	p.printf("== %s ==\n", title)
}

// laneOrder orders the lanes as a run takes them.
var laneOrder = []string{"slow", DefaultLane, "flaky", "serial", "disruptive"}

// DefaultLane is how reports name the lane of tests with no lane marker.
const DefaultLane = "default"

// LaneLines are the per-lane counts, one line per lane that has tests, in
// the order a run takes them, e.g. "serial: 3 passed (3 tests)"; none
// when no test has a lane.
func LaneLines(cases []Case) []string {
	by := map[string][]Case{}
	lanes := false
	for _, c := range cases {
		lane := c.Lane
		if lane == "" {
			lane = DefaultLane
		} else {
			lanes = true
		}
		by[lane] = append(by[lane], c)
	}
	if !lanes {
		return nil
	}
	var out []string
	for _, lane := range laneOrder {
		if cs := by[lane]; len(cs) > 0 {
			s := Count(cs)
			out = append(out, fmt.Sprintf("%s: %s (%s)", sanitize(lane), strings.Join(countParts(s), ", "), testsWord(s.Total)))
		}
	}
	return out
}
