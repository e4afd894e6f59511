package ghaction

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// MaxJobSummary is the largest job summary GitHub accepts from a step.
const MaxJobSummary = 1 << 20

// Summary is what the job summary and the check run's summary say.
type Summary struct {
	Counts report.Counts
	Wall   time.Duration
	Tests  []Test
	// CheckName and CheckURL link the check run, when there is one.
	CheckName, CheckURL string
	Image               string
	JUnitPath           string
	// Cancelled marks a run stopped by the workflow's cancellation.
	Cancelled bool
	// Problem says why the run ended early or could not start.
	Problem string
	// Notes are shown under the counts, e.g. that checks could not be
	// written.
	Notes []string
	// Context links files to the commit under test.
	Context Context
	// Slowest is how many of the slowest tests to list; default 5.
	Slowest int
	// Coverage is the run's combined coverage, with --coverage.
	Coverage *coverage.Summary
	// APICoverage is the run's API coverage, with --api-coverage.
	APICoverage *apicov.Report
	// Lanes are the per-lane counts (report.LaneLines), shown under the
	// counts; none in a run without marker lanes.
	Lanes []string
	// Bases name the base images of a runtime matrix
	// (report.Report.BaseLabels); with more than one, the summary shows
	// the counts per base and the tests whose verdict differs.
	Bases []string
	// Comparison is the run against its base (history_path), and Ready
	// the quarantined tests ready to release; nil without.
	Comparison *history.Comparison
	Ready      []string
}

// Title is the one line a check run shows, in pytest's words.
func (s Summary) Title() string {
	c := s.Counts
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{
		{c.Failed, "failed"}, {c.Passed, "passed"}, {c.Skipped, "skipped"},
		{c.Errors, plural(c.Errors, "error", "errors")}, {c.Flaky, "flaky"}, {c.NotRun, "not run"},
		{c.Quarantined, "quarantined"}, {c.NotAffected, "not affected"},
	} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	var t string
	switch {
	case len(parts) == 0 && s.Problem != "":
		t = "could not run the tests"
	case len(parts) == 0:
		t = "no tests ran"
	default:
		t = strings.Join(parts, ", ") + " in " + s.Wall.Round(100*time.Millisecond).String()
	}
	if s.Cancelled {
		t = "cancelled: " + t
	}
	return t
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (s Summary) icon() string {
	c := s.Counts
	switch {
	case s.Cancelled:
		return "⏹️"
	case c.Failed > 0 || c.Errors > 0:
		return "❌"
	case s.Problem != "" || c.NotRun > 0:
		return "⚠️"
	default:
		return "✅"
	}
}

// Markdown renders the summary within limit bytes. What does not fit is
// left out whole, failures last, and a note says how much was left out and
// where to find it.
func (s Summary) Markdown(limit int) string {
	b := &budget{limit: limit}
	b.add(s.head())

	if len(s.Bases) > 1 {
		s.matrix(b)
	}
	tests := slices.SortedFunc(slices.Values(s.Tests), func(a, b Test) int {
		return cmp.Or(strings.Compare(a.TestID, b.TestID), cmp.Compare(slices.Index(s.Bases, a.Base), slices.Index(s.Bases, b.Base)))
	})
	s.testSections(b, tests)
	disruptionSection(b, tests)
	slowestSection(b, tests, s.Slowest)
	apiCoverageSection(b, s.APICoverage)
	return b.finish(s.JUnitPath)
}

// head renders the summary's title, counts, lanes, links, warnings and
// notes, and the coverage and comparison sections.
func (s Summary) head() string {
	var head strings.Builder
	fmt.Fprintf(&head, "### %s k8s-testrun: %s\n\n", s.icon(), s.Title())
	countsTable(&head, s.Counts)
	if len(s.Lanes) > 0 {
		lanes := make([]string, len(s.Lanes))
		for i, l := range s.Lanes {
			lanes[i] = escapeInline(l)
		}
		head.WriteString("**By lane:** " + strings.Join(lanes, " · ") + "\n\n")
	}

	var links []string
	if u := linkTarget(s.CheckURL); u != "" {
		links = append(links, fmt.Sprintf("**Check run:** [%s](%s)", escapeInline(s.CheckName), u))
	}
	if s.Wall > 0 {
		links = append(links, "**Wall time:** "+s.Wall.Round(100*time.Millisecond).String())
	}
	if s.JUnitPath != "" {
		links = append(links, "**JUnit:** "+code(s.JUnitPath))
	}
	if s.Image != "" {
		links = append(links, "**Image:** "+code(s.Image))
	}
	if len(links) > 0 {
		head.WriteString(strings.Join(links, " · ") + "\n\n")
	}
	if s.Cancelled {
		head.WriteString("> [!WARNING]\n> The workflow was cancelled: the results are partial, and the tests that had not finished count as not run.\n\n")
	}
	if s.Problem != "" {
		fmt.Fprintf(&head, "> [!CAUTION]\n> %s\n\n", quoteLines(s.Problem))
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&head, "> [!NOTE]\n> %s\n\n", quoteLines(n))
	}

	head.WriteString(coverageSection(s.Coverage))
	head.WriteString(compareSection(s.Comparison, s.Ready))
	return head.String()
}

// testSections adds the sections of failures and errors, quarantined
// tests and flaky tests to b.
func (s Summary) testSections(b *budget, tests []Test) {
	var problems, flaky, quarantined []Test
	for _, t := range tests {
		switch {
		case t.Problem():
			problems = append(problems, t)
		case t.Excused():
			quarantined = append(quarantined, t)
		case t.Flaky:
			flaky = append(flaky, t)
		}
	}
	if len(problems) > 0 {
		b.section(fmt.Sprintf("#### Failures and errors (%d)\n\n", len(problems)))
		for _, t := range problems {
			b.item(s.problem(t), "failures and errors")
		}
	}
	if len(quarantined) > 0 {
		// Their failures do not fail the run; the entry's words are the
		// project's, escaped like a test's.
		b.section(fmt.Sprintf("#### Quarantined (%d)\n\n| Test | Result | Quarantine |\n| :-- | :-- | :-- |\n", len(quarantined)))
		for _, t := range quarantined {
			b.item(fmt.Sprintf("| %s | %s | %s |\n", cell(t.Name()), t.Status, cell(t.Quarantined)), "quarantined tests")
		}
		b.add("\n")
	}
	if len(flaky) > 0 {
		b.section(fmt.Sprintf("#### Flaky (%d)\n\n| Test | Attempts | Where |\n| :-- | --: | :-- |\n", len(flaky)))
		for _, t := range flaky {
			// In a table a pipe ends the cell, even in a code span; the
			// link's target has none (linkTarget).
			b.item(fmt.Sprintf("| %s | %d | %s |\n", cell(t.Name()), t.Attempts, strings.ReplaceAll(s.where(t, t.Line), "|", `\|`)), "flaky tests")
		}
		b.add("\n")
	}
}

// disruptionSection adds the section of the tests' infrastructure retries
// to b.
func disruptionSection(b *budget, tests []Test) {
	var disrupted []Test
	for _, t := range tests {
		if len(t.Disruptions) > 0 {
			disrupted = append(disrupted, t)
		}
	}
	if len(disrupted) > 0 {
		b.section("#### Infrastructure retries\n\n| Test | Attempt | Reason | Start | End | Pod |\n| :-- | --: | :-- | :-- | :-- | :-- |\n")
		for _, t := range disrupted {
			for _, d := range t.Disruptions {
				b.item(fmt.Sprintf("| %s | %d | %s | %s | %s | %s |\n", cell(t.Name()), d.Attempt, cell(d.Reason), cell(d.Start), cell(d.End), cell(d.Pod)), "infrastructure retries")
			}
		}
		b.add("\n")
	}
}

// slowestSection adds the section of the n slowest tests (5 when n is 0)
// to b.
func slowestSection(b *budget, tests []Test, n int) {
	if n == 0 {
		n = 5
	}
	if slow := slowest(tests, n); len(slow) > 0 {
		b.section(fmt.Sprintf("#### Slowest %d\n\n| Duration | Test |\n| --: | :-- |\n", len(slow)))
		for _, t := range slow {
			b.item(fmt.Sprintf("| %s | %s |\n", t.Duration.Round(time.Millisecond), cell(t.Name())), "slowest tests")
		}
		b.add("\n")
	}
}

func (s Summary) problem(t Test) string {
	var w strings.Builder
	icon := "❌"
	if t.Status == junit.StatusError {
		icon = "💥"
	}
	fmt.Fprintf(&w, "%s **%s**", icon, code(t.TestID))
	if where := s.where(t, t.FailLine); where != "" {
		w.WriteString(" at " + where)
	}
	var extra []string
	if t.Base != "" {
		extra = append(extra, escapeInline(t.Base))
	}
	if t.Reason != "" {
		extra = append(extra, code(t.Reason))
	}
	if t.Attempts > 1 {
		extra = append(extra, fmt.Sprintf("%d attempts", t.Attempts))
	}
	if len(extra) > 0 {
		w.WriteString(" · " + strings.Join(extra, " · "))
	}
	w.WriteString("\n\n")
	if msg := clipLines(t.Message, 20, 500); msg != "" {
		f := fence(msg)
		fmt.Fprintf(&w, "%stext\n%s\n%s\n\n", f, msg, f)
	}
	return w.String()
}

// where is the test's file and line, linked to the commit when possible.
func (s Summary) where(t Test, line int) string {
	if t.Path == "" {
		return ""
	}
	label := t.Path
	if line > 0 {
		label = fmt.Sprintf("%s:%d", t.Path, line)
	}
	if u := linkTarget(s.Context.BlobURL(t.Path, line)); u != "" {
		return fmt.Sprintf("[%s](%s)", code(label), u)
	}
	return code(label)
}

func slowest(tests []Test, n int) []Test {
	var timed []Test
	for _, t := range tests {
		if t.Duration > 0 {
			timed = append(timed, t)
		}
	}
	slices.SortStableFunc(timed, func(a, b Test) int { return cmp.Compare(b.Duration, a.Duration) })
	return timed[:min(n, len(timed))]
}

// budget builds markdown up to a limit, keeping room for the closing note.
type budget struct {
	limit   int
	b       strings.Builder
	full    bool
	omitted map[string]int
	order   []string
}

// reserve is room kept for the note on what was left out.
const reserve = 512

func (b *budget) add(s string) {
	if b.b.Len()+len(s) > b.limit-reserve {
		b.full = true
		return
	}
	b.b.WriteString(s)
}

func (b *budget) section(heading string) {
	if !b.full {
		b.add(heading)
	}
}

// item adds s, or counts it as left out once the budget is spent; after
// the first item that does not fit, none does, so the list stays in order.
func (b *budget) item(s, what string) {
	if !b.full {
		b.add(s)
		if !b.full {
			return
		}
	}
	if b.omitted == nil {
		b.omitted = map[string]int{}
	}
	if b.omitted[what] == 0 {
		b.order = append(b.order, what)
	}
	b.omitted[what]++
}

func (b *budget) finish(junitPath string) string {
	if len(b.order) > 0 {
		var parts []string
		for _, w := range b.order {
			parts = append(parts, fmt.Sprintf("%d %s", b.omitted[w], w))
		}
		where := "The JUnit report has every test."
		if junitPath != "" {
			where = fmt.Sprintf("The JUnit report (%s) has every test.", code(junitPath))
		}
		fmt.Fprintf(&b.b, "> [!NOTE]\n> Trimmed to stay within GitHub's limit of %d bytes: %s not shown. %s\n", b.limit, strings.Join(parts, ", "), where)
	}
	s := b.b.String()
	if len(s) > b.limit {
		// Only a head longer than the limit gets here: cut it bluntly.
		s = clipBytes(s, b.limit)
	}
	return s
}

// code is an inline code span that holds any text: the fence is longer
// than any run of backticks inside, and newlines become spaces.
func code(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	f := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return f + " " + s + " " + f
	}
	return f + s + f
}

// cell is code fit for a table cell: a pipe would end the cell.
func cell(s string) string { return strings.ReplaceAll(code(s), "|", `\|`) }

// fence is a code fence longer than any run of backticks in s.
func fence(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

func longestRun(s string, r byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == r {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

// escapeText makes text from outside (a test's base, a problem quoting
// pip or an API, a check's name) read as itself in markdown: no heading,
// list, quote, table, emphasis, link, image, autolink or HTML of its own.
// It backslash-escapes what starts an inline construct anywhere, and what
// starts a block construct at a line's start (after its indentation); it
// breaks GFM's autolinks ("://", "www.", "@"), and writes "<" and ">" as
// entities. Every line break becomes "\n".
func escapeText(s string) string {
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
	var b strings.Builder
	start := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			b.WriteByte(c)
			start = true
			continue
		case start && (c == ' ' || c == '\t'):
			b.WriteByte(c)
			continue
		case c == '<':
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		case strings.IndexByte("\\[]*_`|~#@", c) >= 0,
			start && strings.IndexByte("-+=", c) >= 0,
			c == ':' && strings.HasPrefix(s[i+1:], "//"):
			b.WriteByte('\\')
			b.WriteByte(c)
		case start && c >= '0' && c <= '9':
			// An ordered list item: "1." or "1)".
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString(s[i:j])
			if j < len(s) && (s[j] == '.' || s[j] == ')') {
				b.WriteByte('\\')
				b.WriteByte(s[j])
				j++
			}
			i = j - 1
		case (c == 'w' || c == 'W') && len(s) >= i+4 && strings.EqualFold(s[i:i+4], "www."):
			b.WriteString(s[i:i+3] + `\.`)
			i += 3
		default:
			b.WriteByte(c)
		}
		start = false
	}
	return b.String()
}

// escapeInline is escapeText on one line: a line break in a link's text,
// or in the middle of a line the summary writes, would end it.
func escapeInline(s string) string {
	return escapeText(strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " "))
}

// linkTarget is u fit for a markdown link's destination, or "" when it is
// no http(s) URL: every byte that could end the destination or the link
// (space, parentheses, angle brackets, quotes, backslash, a line break) or
// is not ASCII is percent-encoded.
func linkTarget(u string) string {
	lower := strings.ToLower(u)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") {
		return ""
	}
	const safe = "-._~:/?#@!$&*+,;=%"
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// quoteLines continues a blockquote over every line of s.
func quoteLines(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(escapeText(s)), "\n", "\n> ")
}

// clipLines keeps the first n lines of s, each at most width bytes.
func clipLines(s string, n, width int) string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n ")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	more := len(lines) - n
	lines = lines[:min(n, len(lines))]
	for i, l := range lines {
		if len(l) > width {
			kept := clipBytes(l, width)
			lines[i] = fmt.Sprintf("%s… (%d more bytes)", kept, len(l)-len(kept))
		}
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("… %d more lines in the JUnit report", more))
	}
	return strings.Join(lines, "\n")
}

func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// leastCovered is how many files the coverage section lists.
const leastCovered = 5

// coverageSection is the run's total coverage and its least covered files.
func coverageSection(c *coverage.Summary) string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Coverage:** %s of %d lines, all pods combined", c.Total(), c.Lines)
	least := c.Least(leastCovered)
	if len(least) == 0 {
		return b.String() + "\n\n"
	}
	b.WriteString("\n\n| Least covered | Lines | Covered |\n| :-- | --: | --: |\n")
	for _, f := range least {
		fmt.Fprintf(&b, "| %s | %d | %s |\n", cell(f.Name), f.Lines, coverage.Summary{Lines: f.Lines, Covered: f.Covered}.Total())
	}
	return b.String() + "\n"
}

// maxMatrixRows bounds the matrix's table of differing tests, so that the
// failures below it keep their room.
const maxMatrixRows = 100

// matrix adds the runtime matrix: a row of counts per base, then the tests
// whose verdict differs between bases, each with its verdict per base.
func (s Summary) matrix(b *budget) {
	cases := make([]report.Case, len(s.Tests))
	for i, t := range s.Tests {
		cases[i] = t.Case
	}
	var head strings.Builder
	head.WriteString("#### Runtime matrix\n\n| Base | Passed | Failed | Errors | Skipped | Not run | Total |\n| :-- | --: | --: | --: | --: | --: | --: |\n")
	for i, c := range report.BaseSummaries(cases, s.Bases) {
		fmt.Fprintf(&head, "| %s | %d | %d | %d | %d | %d | %d |\n", cell(s.Bases[i]), c.Passed, c.Failed, c.Errors, c.Skipped, c.NotRun, c.Total)
	}
	b.section(head.String() + "\n")
	rows := report.MatrixRows(cases, s.Bases)
	if len(rows) == 0 {
		b.add("Every test has the same verdict on every base.\n\n")
		return
	}
	cols := make([]string, len(s.Bases))
	for i, base := range s.Bases {
		cols[i] = cell(base)
	}
	b.add(fmt.Sprintf("%d %s whose verdict differs between bases:\n\n| Test | %s |\n| :-- |%s\n", len(rows),
		plural(len(rows), "test", "tests"), strings.Join(cols, " | "), strings.Repeat(" :-- |", len(cols))))
	for n, r := range rows {
		if n == maxMatrixRows {
			b.add(fmt.Sprintf("| … %d more, in the JUnit report | |\n", len(rows)-n))
			break
		}
		cells := make([]string, len(r.Verdicts))
		for i, v := range r.Verdicts {
			cells[i] = verdictCell(v)
		}
		b.item(fmt.Sprintf("| %s | %s |\n", cell(r.TestID), strings.Join(cells, " | ")), "matrix rows")
	}
	b.add("\n")
}

// verdictCell is a verdict with the icon the summary gives it elsewhere.
func verdictCell(v string) string {
	switch v {
	case "passed":
		return "✅ passed"
	case "FAILED":
		return "❌ failed"
	case "ERROR":
		return "💥 error"
	case "skipped":
		return "⏭️ skipped"
	}
	return v
}

// countsTable writes the summary's table of counts: a row per verdict,
// the rarer ones only when they occur.
func countsTable(head *strings.Builder, c report.Counts) {
	head.WriteString("| | Tests |\n| :-- | --: |\n")
	for _, row := range []struct {
		icon, what string
		n          int
		always     bool
	}{
		{"✅", "Passed", c.Passed, true},
		{"❌", "Failed", c.Failed, true},
		{"💥", "Errors", c.Errors, true},
		{"⏭️", "Skipped", c.Skipped, true},
		{"🔁", "Flaky", c.Flaky, true},
		{"⏹️", "Not run", c.NotRun, false},
		{"🔒", "Quarantined", c.Quarantined, false},
		{"💤", "Not affected", c.NotAffected, false},
	} {
		if row.always || row.n > 0 {
			fmt.Fprintf(head, "| %s %s | %d |\n", row.icon, row.what, row.n)
		}
	}
	fmt.Fprintf(head, "| **Total** | **%d** |\n\n", c.Total)
}
