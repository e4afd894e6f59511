package report

import (
	"strconv"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// HeadlineStyle is how Headline lays its line out.
type HeadlineStyle int

const (
	// Compact is "FAILED tests/x.py::test_y [OOMKilled, 2 attempts]", for
	// annotations and summaries.
	Compact HeadlineStyle = iota
	// Aligned pads the verdict to line up, puts where the test is after
	// its id and sets the brackets apart, for the terminal:
	// "ERROR  tests/x.py::test_y  at tests/x.py:3  [OOMKilled]".
	Aligned
)

// Headline is the one line that names a failed or errored test: its
// verdict, its id and, in brackets, the base it ran on in a runtime
// matrix, its infrastructure reason and how many attempts it took. The
// test's words are left as they are: the caller escapes them for where
// the line goes.
func Headline(c Case, style HeadlineStyle) string {
	label := "FAILED"
	if c.Status == junit.StatusError {
		label = "ERROR"
	}
	var tags []string
	if c.Base != "" {
		tags = append(tags, c.Base)
	}
	if c.Reason != "" {
		tags = append(tags, c.Reason)
	}
	if c.Attempts > 1 {
		tags = append(tags, strconv.Itoa(c.Attempts)+" attempts")
	}
	gap := " "
	var b strings.Builder
	if style == Aligned {
		label = pad(label, len("FAILED"))
		gap = "  "
	}
	b.WriteString(label + " " + c.TestID)
	if style == Aligned {
		b.WriteString(location(c))
	}
	if len(tags) > 0 {
		b.WriteString(gap + "[" + strings.Join(tags, ", ") + "]")
	}
	return b.String()
}

func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-len(s)))
}
