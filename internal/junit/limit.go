package junit

import (
	"fmt"
	"unicode/utf8"
)

// Limits bound one testcase in the merged report, so that one test that
// fails with a huge message or prints without end cannot make the report
// huge. Zero fields take the defaults.
type Limits struct {
	// Message bounds a failure, error or skip message; default 16 KiB.
	Message int
	// Text bounds the traceback of a failure, error or skip; default 64 KiB.
	Text int
	// Output bounds system-out and system-err each, keeping the tail;
	// default 256 KiB.
	Output int
}

// DefaultLimits are what Write applies.
var DefaultLimits = Limits{Message: 16 << 10, Text: 64 << 10, Output: 256 << 10}

func (l Limits) withDefaults() Limits {
	if l.Message <= 0 {
		l.Message = DefaultLimits.Message
	}
	if l.Text <= 0 {
		l.Text = DefaultLimits.Text
	}
	if l.Output <= 0 {
		l.Output = DefaultLimits.Output
	}
	return l
}

// Cap returns tc with its messages, texts and outputs cut to l, each cut
// followed (or, for outputs, preceded) by a note of how much was cut.
func (tc Testcase) Cap(l Limits) Testcase {
	l = l.withDefaults()
	capResult := func(r *Result) *Result {
		if r == nil {
			return nil
		}
		c := *r
		c.Message = CutHead(c.Message, l.Message)
		c.Text = CutHead(c.Text, l.Text)
		return &c
	}
	capOutput := func(o *Output) *Output {
		if o == nil {
			return nil
		}
		return &Output{Text: CutTail(o.Text, l.Output)}
	}
	tc.Failure, tc.Error, tc.Skipped = capResult(tc.Failure), capResult(tc.Error), capResult(tc.Skipped)
	tc.SystemOut, tc.SystemErr = capOutput(tc.SystemOut), capOutput(tc.SystemErr)
	return tc
}

// CutHead keeps the first max bytes of s, at a character boundary, and
// notes how many bytes were cut after them.
func CutHead(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf(" [k8s-testrun cut %d bytes]", len(s)-n)
}

// CutTail keeps the last max bytes of s, at a character boundary, after a
// note of how many bytes were cut before them.
func CutTail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := len(s) - max
	for n < len(s) && !utf8.RuneStart(s[n]) {
		n++
	}
	return fmt.Sprintf("[k8s-testrun cut the first %d bytes]\n", n) + s[n:]
}
