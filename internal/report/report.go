// Package report writes the terminal summary of a run: the counts, every
// failure and error with its message and location, the flaky tests, the
// slowest tests and the wall time.
//
// It takes its own small Case type rather than the run's internal state, so
// the text can be tested from plain values and the runner decides what goes
// into a Case.
package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
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
	// Attempts is the number of pods run for the test.
	Attempts int
	// Flaky marks a test that failed and then passed on a retry.
	Flaky bool
	// Reason names the infrastructure cause of an error, such as OOMKilled,
	// DeadlineExceeded or Unschedulable; empty for pytest's own errors.
	Reason string
}

// Summary holds the counts of a run and its wall time.
type Summary struct {
	Passed, Failed, Errors, Skipped int
	// Flaky counts the passed tests that needed a retry.
	Flaky int
	Total int
	Wall  time.Duration
}

// Count tallies cases. Wall is left for the caller.
func Count(cases []Case) Summary {
	var s Summary
	for _, c := range cases {
		s.Total++
		switch c.Status {
		case junit.StatusPassed:
			s.Passed++
		case junit.StatusFailed:
			s.Failed++
		case junit.StatusError:
			s.Errors++
		case junit.StatusSkipped:
			s.Skipped++
		}
		if c.Flaky {
			s.Flaky++
		}
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
	cases = slices.SortedFunc(slices.Values(cases), func(a, b Case) int { return strings.Compare(a.TestID, b.TestID) })
	p := &printer{w: w}

	var problems, flaky []Case
	for _, c := range cases {
		switch {
		case c.Status == junit.StatusFailed || c.Status == junit.StatusError:
			problems = append(problems, c)
		case c.Flaky:
			flaky = append(flaky, c)
		}
	}
	if len(problems) > 0 {
		p.section("failures and errors")
		for _, c := range problems {
			p.problem(c, opts.MessageLines)
		}
	}
	if len(flaky) > 0 {
		p.section("flaky tests")
		for _, c := range flaky {
			p.printf("FLAKY  %s  passed on attempt %d%s\n", sanitize(c.TestID), c.Attempts, location(c))
		}
	}
	if slow := slowest(cases, opts.Slowest); len(slow) > 0 {
		p.section(fmt.Sprintf("slowest %d tests", len(slow)))
		for _, c := range slow {
			p.printf("%8.2fs  %s\n", c.Duration.Seconds(), sanitize(c.TestID))
		}
	}
	if p.n > 0 {
		p.printf("\n")
	}
	p.printf("%s\n", closingLine(s))
	return p.err
}

func (p *printer) problem(c Case, maxLines int) {
	label := "FAILED"
	if c.Status == junit.StatusError {
		label = "ERROR "
	}
	var extra []string
	if c.Reason != "" {
		extra = append(extra, c.Reason)
	}
	if c.Attempts > 1 {
		extra = append(extra, strconv.Itoa(c.Attempts)+" attempts")
	}
	suffix := ""
	if len(extra) > 0 {
		suffix = "  [" + strings.Join(extra, ", ") + "]"
	}
	p.printf("%s %s%s%s\n", label, sanitize(c.TestID), location(c), sanitize(suffix))

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
	var timed []Case
	for _, c := range cases {
		if c.Duration > 0 {
			timed = append(timed, c)
		}
	}
	slices.SortStableFunc(timed, func(a, b Case) int { return cmp.Compare(b.Duration, a.Duration) })
	return timed[:min(n, len(timed))]
}

// closingLine is pytest's closing line with k8s-testrun's counts, e.g.
// "1 failed, 10 passed, 2 skipped, 1 error, 1 flaky in 1m13.4s (15 tests)".
func closingLine(s Summary) string {
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
	wall := s.Wall.Round(100 * time.Millisecond).String()
	if len(parts) == 0 {
		return "no tests ran in " + wall
	}
	tests := "tests"
	if s.Total == 1 {
		tests = "test"
	}
	return fmt.Sprintf("%s in %s (%d %s)", strings.Join(parts, ", "), wall, s.Total, tests)
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
