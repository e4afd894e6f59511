package report

import "io"

// PrintSummary writes the terminal summary: counts, failures with their
// messages and locations, flaky and slowest tests, wall time.
func (r *Report) PrintSummary(w io.Writer) {
	cases := r.SummaryCases()
	s := Count(cases)
	s.Wall = r.Wall
	_ = Text(w, s, cases, Options{Bases: r.BaseLabels()})
}
