package timeline

import (
	"fmt"
	"strings"
)

// Mermaid is a compact picture of the run for a GitHub job summary, which
// renders Mermaid: a gantt chart of the n slowest pods, one section per
// pod named by its first test, split into its phases, then the phase
// totals. It is a few kilobytes at most, whatever the run's size.
func (c Chart) Mermaid(n int) string {
	slow := c.Slowest(n)
	if len(slow) == 0 {
		return ""
	}
	start, _ := c.Span()
	var b strings.Builder
	b.WriteString("```mermaid\ngantt\n")
	what := fmt.Sprintf("The %d slowest pods", len(slow))
	if len(slow) == 1 {
		what = "The slowest pod"
	}
	fmt.Fprintf(&b, "    title %s, time since the first pod\n", what)
	b.WriteString("    dateFormat x\n    axisFormat %M:%S\n")
	for _, bar := range slow {
		name := "(no test)"
		if len(bar.Tests) > 0 {
			name = bar.Tests[0]
			if len(bar.Tests) > 1 {
				name += fmt.Sprintf(" and %d more", len(bar.Tests)-1)
			}
		}
		fmt.Fprintf(&b, "    section %s\n", mermaidText(fmt.Sprintf("%s (%s, %s)", name, bar.Verdict, seconds(bar.Duration()))))
		for _, p := range bar.Phases() {
			tag := ""
			switch {
			case p.Name == PhaseTesting && (bar.Verdict == Failed || bar.Verdict == Error):
				tag = "crit, "
			case p.Name == PhaseTesting:
				tag = "active, "
			case p.Name == PhaseWaiting || p.Name == PhaseCollecting:
				tag = "done, "
			}
			fmt.Fprintf(&b, "    %s :%s%d, %d\n", p.Name, tag, p.Start.Sub(start).Milliseconds(), p.End.Sub(start).Milliseconds())
		}
	}
	b.WriteString("```\n\n")
	b.WriteString(TotalsLine(c.Totals()) + "\n")
	return b.String()
}

// mermaidText keeps a name within what a gantt line may hold: no line
// breaks, no '#' or ';' (which end a statement), and not too long.
func mermaidText(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\r', '#', ';', '`':
			return ' '
		}
		if r < ' ' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
