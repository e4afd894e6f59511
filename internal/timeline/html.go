package timeline

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"time"
)

var page = template.Must(template.New("timeline").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>k8s-testrun run {{.RunID}}: timeline</title>
<style>
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 13px; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 8px; }
p { margin: 4px 0 12px; }
.chart { overflow-x: auto; border: 1px solid #e3e6ea; }
.chart g.pod:hover rect { opacity: 0.75; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.tests { font-family: "DejaVu Sans Mono", monospace; white-space: pre; }
td, th { white-space: nowrap; }
.passed { color: #2e9e4f; } .failed { color: #d73a49; } .error { color: #c25e00; } .flaky { color: #a08000; } .skipped { color: #777; }
</style>
</head>
<body>
<h1>k8s-testrun run {{.RunID}}</h1>
<p>{{.Summary}}</p>
<div class="chart">{{.SVG}}</div>
<table>
<thead><tr><th>tests</th><th>verdict</th><th class="num">attempt</th><th>pod</th><th>node</th><th class="num">waiting</th><th class="num">starting</th><th class="num">testing</th><th class="num">collecting</th><th class="num">pod time</th></tr></thead>
<tbody>
{{range .Rows}}<tr><td class="tests">{{.Tests}}</td><td class="{{.Verdict}}">{{.Verdict}}{{if .Reason}} ({{.Reason}}){{end}}</td><td class="num">{{.Attempt}}</td><td>{{.Pod}}</td><td>{{.Node}}</td><td class="num">{{.Waiting}}</td><td class="num">{{.Starting}}</td><td class="num">{{.Testing}}</td><td class="num">{{.Collecting}}</td><td class="num">{{.Total}}</td></tr>
{{end}}</tbody>
</table>
</body>
</html>
`))

type row struct {
	Tests, Verdict, Reason, Pod, Node             string
	Attempt                                       int
	Waiting, Starting, Testing, Collecting, Total string
}

// WriteHTML writes the chart as one self-contained HTML page: the SVG
// inline, hover titles on every pod, and a table of every pod with its
// tests and phases, slowest first.
func WriteHTML(w io.Writer, c Chart) error {
	bars := slices.Clone(c.Bars)
	slices.SortStableFunc(bars, func(a, b Bar) int { return cmp.Compare(b.Duration(), a.Duration()) })
	var rows []row
	for _, b := range bars {
		r := row{Verdict: b.Verdict, Reason: b.Reason, Pod: b.Pod, Node: b.Node, Attempt: max(b.Attempt, 1), Total: dash(b.Duration()),
			Waiting: "-", Starting: "-", Testing: "-", Collecting: "-"}
		for i, t := range b.Tests {
			if i > 0 {
				r.Tests += "\n"
			}
			r.Tests += t
		}
		for _, p := range b.Phases() {
			d := dash(p.End.Sub(p.Start))
			switch p.Name {
			case PhaseWaiting:
				r.Waiting = d
			case PhaseStarting:
				r.Starting = d
			case PhaseTesting:
				r.Testing = d
			case PhaseCollecting:
				r.Collecting = d
			}
		}
		rows = append(rows, r)
	}
	return page.Execute(w, struct {
		RunID, Summary string
		SVG            template.HTML
		Rows           []row
	}{
		RunID: c.RunID, Summary: TotalsLine(c.Totals()),
		// svg escapes every text it draws.
		SVG:  template.HTML(svg(c)),
		Rows: rows,
	})
}

// TotalsLine says where the pods' time went, e.g. "time in pods: 12%
// waiting, 31% starting, 52% testing, 5% collecting (4m10s in all)".
func TotalsLine(t map[string]time.Duration) string {
	var total time.Duration
	for _, d := range t {
		total += d
	}
	if total <= 0 {
		return "no pod was timed"
	}
	pct := func(name string) int { return int(math.Round(100 * float64(t[name]) / float64(total))) }
	return fmt.Sprintf("time in pods: %d%% waiting, %d%% starting, %d%% testing, %d%% collecting (%s in all)",
		pct(PhaseWaiting), pct(PhaseStarting), pct(PhaseTesting), pct(PhaseCollecting), total.Round(100*time.Millisecond))
}

func dash(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return seconds(d)
}
