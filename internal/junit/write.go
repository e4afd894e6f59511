package junit

import (
	"encoding/xml"
	"fmt"
	"io"
)

// Write writes ts as an indented XML document with its header. The tests,
// failures, errors and skipped counts of every suite and of the root are
// recomputed from the testcases, so they cannot disagree with them; names,
// times and the order of everything are written as given. Every testcase
// is cut to DefaultLimits.
func Write(w io.Writer, ts Testsuites) error {
	ts = recount(ts)
	for i := range ts.Suites {
		cases := make([]Testcase, len(ts.Suites[i].Testcases))
		for j, tc := range ts.Suites[i].Testcases {
			cases[j] = tc.Cap(DefaultLimits)
		}
		ts.Suites[i].Testcases = cases
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("writing junit xml: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(ts); err != nil {
		return fmt.Errorf("writing junit xml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("writing junit xml: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("writing junit xml: %w", err)
	}
	return nil
}

func recount(ts Testsuites) Testsuites {
	ts.Tests, ts.Failures, ts.Errors, ts.Skipped = 0, 0, 0, 0
	suites := make([]Testsuite, len(ts.Suites))
	for i, s := range ts.Suites {
		s.Tests, s.Failures, s.Errors, s.Skipped = len(s.Testcases), 0, 0, 0
		for _, tc := range s.Testcases {
			switch tc.Status() {
			case StatusFailed:
				s.Failures++
			case StatusError:
				s.Errors++
			case StatusSkipped:
				s.Skipped++
			}
		}
		ts.Tests += s.Tests
		ts.Failures += s.Failures
		ts.Errors += s.Errors
		ts.Skipped += s.Skipped
		suites[i] = s
	}
	ts.Suites = suites
	return ts
}
