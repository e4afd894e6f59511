package timeline

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Geometry of the drawing, in SVG user units (pixels).
const (
	marginLeft  = 70
	marginRight = 20
	plotWidth   = 960
	headerH     = 46
	laneH       = 24
	barH        = 16
	tailH       = 5
	axisH       = 34
)

// Colours: the phases around the test in greys and blues, the test itself
// by verdict.
var (
	phaseColor = map[string]string{
		PhaseWaiting:    "#d5d9de",
		PhaseStarting:   "#9db4d3",
		PhaseCollecting: "#5f6b7a",
	}
	verdictColor = map[string]string{
		Passed:  "#2e9e4f",
		Failed:  "#d73a49",
		Error:   "#c25e00",
		Flaky:   "#c9a400",
		Skipped: "#9aa0a6",
	}
)

func colorOf(phase, verdict string) string {
	if phase == PhaseTesting {
		if c, ok := verdictColor[verdict]; ok {
			return c
		}
		return verdictColor[Skipped]
	}
	return phaseColor[phase]
}

// WriteSVG writes the chart as a standalone SVG document.
func WriteSVG(w io.Writer, c Chart) error {
	_, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+svg(c))
	return err
}

// svg is the chart's <svg> element.
func svg(c Chart) string {
	lanes := c.Lanes()
	start, end := c.Span()
	span := end.Sub(start)
	if span <= 0 {
		span = time.Second
	}
	width := marginLeft + plotWidth + marginRight
	height := headerH + max(len(lanes), 1)*laneH + axisH
	x := func(t time.Time) float64 {
		return marginLeft + float64(t.Sub(start))/float64(span)*plotWidth
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	title := fmt.Sprintf("k8s-testrun run %s: %d pods in %d lanes over %s", c.RunID, len(c.timed()), len(lanes), span.Round(100*time.Millisecond))
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`+"\n", marginLeft, esc(title))

	// Legend.
	lx := marginLeft
	for _, item := range []struct{ name, color string }{
		{PhaseWaiting, phaseColor[PhaseWaiting]}, {PhaseStarting, phaseColor[PhaseStarting]},
		{"testing: passed", verdictColor[Passed]}, {"failed", verdictColor[Failed]}, {"error", verdictColor[Error]},
		{"flaky", verdictColor[Flaky]}, {"skipped", verdictColor[Skipped]}, {PhaseCollecting, phaseColor[PhaseCollecting]},
	} {
		fmt.Fprintf(&b, `<rect x="%d" y="28" width="12" height="12" fill="%s"/><text x="%d" y="38">%s</text>`+"\n", lx, item.color, lx+16, esc(item.name))
		lx += 16 + 8*len(item.name) + 14
	}

	// Time axis: grid lines and labels.
	step := tickStep(span)
	axisY := headerH + max(len(lanes), 1)*laneH
	for t := time.Duration(0); t <= span; t += step {
		tx := x(start.Add(t))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e3e6ea"/>`, tx, headerH, tx, axisY)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#444">%s</text>`+"\n", tx, axisY+16, tickLabel(t))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#444">time since the first pod</text>`+"\n", marginLeft+plotWidth, axisY+30)

	for i, lane := range lanes {
		y := headerH + i*laneH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#444">slot %d</text>`+"\n", marginLeft-8, y+barH-3, i+1)
		for _, bar := range lane.Bars {
			fmt.Fprintf(&b, `<g class="pod %s"><title>%s</title>`, esc(bar.Verdict), esc(hoverText(bar)))
			for _, p := range bar.Phases() {
				x0, x1 := x(p.Start), x(p.End)
				if p.Name == PhaseCollecting {
					// A thin tail: the slot is free again, and the next
					// pod may already start above it.
					fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x0, y+2+barH-tailH, max(x1-x0, 0.5), tailH, colorOf(p.Name, bar.Verdict))
					continue
				}
				fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x0, y+2, max(x1-x0, 0.5), barH, colorOf(p.Name, bar.Verdict))
			}
			x0, x1 := x(bar.Created), x(bar.slotFreed())
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="none" stroke="#2b2f33" stroke-width="0.6"/>`, x0, y+2, max(x1-x0, 0.5), barH)
			b.WriteString("</g>\n")
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// hoverText is a bar's title: its tests, verdict, pod and phases.
func hoverText(b Bar) string {
	var s strings.Builder
	s.WriteString(strings.Join(b.Tests, "\n"))
	fmt.Fprintf(&s, "\n%s", b.Verdict)
	if b.Reason != "" {
		fmt.Fprintf(&s, " (%s)", b.Reason)
	}
	fmt.Fprintf(&s, ", attempt %d, pod %s", max(b.Attempt, 1), b.Pod)
	if b.Node != "" {
		fmt.Fprintf(&s, " on %s", b.Node)
	}
	fmt.Fprintf(&s, "\n%s in all", seconds(b.Duration()))
	for _, p := range b.Phases() {
		fmt.Fprintf(&s, ", %s %s", p.Name, seconds(p.End.Sub(p.Start)))
	}
	return s.String()
}

// tickStep is a round interval that puts at most about ten ticks on span.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{
		100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
	} {
		if span/s <= 10 {
			return s
		}
	}
	return span / 10
}

func tickLabel(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%gs", d.Seconds())
	}
	return d.String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// esc escapes text for XML character data and attribute values; control
// characters, which XML 1.0 cannot hold, become U+FFFD.
func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
