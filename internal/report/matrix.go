package report

import (
	"fmt"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// Name is the test id, with the base it ran on in a runtime matrix.
func (c Case) Name() string {
	if c.Base == "" {
		return c.TestID
	}
	return c.TestID + " [" + c.Base + "]"
}

// Verdict is a test's verdict as the matrix shows it: passed, FAILED,
// ERROR, skipped or not run.
func Verdict(c Case) string {
	switch {
	case c.NotRun:
		return "not run"
	case c.Status == junit.StatusFailed:
		return "FAILED"
	case c.Status == junit.StatusError:
		return "ERROR"
	}
	return string(c.Status)
}

// NotCollected stands in a matrix row for a base whose discovery did not
// find the test, as it may not when the suite differs by version.
const NotCollected = "not collected"

// MatrixRow is a test and its verdict on each base of a runtime matrix.
type MatrixRow struct {
	TestID   string
	Verdicts []string
}

// MatrixRows are the tests whose verdict is not the same on every base,
// in the order of cases, each with its verdicts in the order of bases.
func MatrixRows(cases []Case, bases []string) []MatrixRow {
	col := map[string]int{}
	for i, b := range bases {
		col[b] = i
	}
	byTest := map[string][]string{}
	var order []string
	for _, c := range cases {
		i, ok := col[c.Base]
		if !ok {
			continue
		}
		v := byTest[c.TestID]
		if v == nil {
			v = make([]string, len(bases))
			for j := range v {
				v[j] = NotCollected
			}
			byTest[c.TestID] = v
			order = append(order, c.TestID)
		}
		v[i] = Verdict(c)
	}
	var rows []MatrixRow
	for _, id := range order {
		v := byTest[id]
		for _, x := range v[1:] {
			if x != v[0] {
				rows = append(rows, MatrixRow{TestID: id, Verdicts: v})
				break
			}
		}
	}
	return rows
}

// BaseSummaries are the counts of each base, in the order of bases.
func BaseSummaries(cases []Case, bases []string) []Summary {
	out := make([]Summary, len(bases))
	for i, b := range bases {
		var of []Case
		for _, c := range cases {
			if c.Base == b {
				of = append(of, c)
			}
		}
		out[i] = Count(of)
	}
	return out
}

// MatrixLines are the matrix as text: one line of counts per base, then a
// table of the tests whose verdict differs, or a line saying none does.
func MatrixLines(cases []Case, bases []string) []string {
	var out []string
	for i, s := range BaseSummaries(cases, bases) {
		parts := countParts(s)
		if len(parts) == 0 {
			parts = []string{"no tests"}
		}
		out = append(out, fmt.Sprintf("%s: %s (%s)", bases[i], strings.Join(parts, ", "), testsWord(s.Total)))
	}
	rows := MatrixRows(cases, bases)
	if len(rows) == 0 {
		return append(out, "every test has the same verdict on every base")
	}
	out = append(out, fmt.Sprintf("%d %s whose verdict differs between bases:", len(rows), plural(len(rows), "test")))
	width := len("test")
	for _, r := range rows {
		width = max(width, len(r.TestID))
	}
	widths := make([]int, len(bases))
	for i, b := range bases {
		widths[i] = len(b)
		for _, r := range rows {
			widths[i] = max(widths[i], len(r.Verdicts[i]))
		}
	}
	line := func(first string, cells []string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "  %-*s", width, first)
		for i, c := range cells {
			fmt.Fprintf(&b, "  %-*s", widths[i], c)
		}
		return strings.TrimRight(b.String(), " ")
	}
	out = append(out, line("test", bases))
	for _, r := range rows {
		out = append(out, line(r.TestID, r.Verdicts))
	}
	return out
}
