package timeline

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// bar is a pod created at c, scheduled at s, testing from ts to te, gone at e.
func bar(pod, verdict string, c, s, ts, te, e float64, tests ...string) Bar {
	return Bar{Pod: pod, Verdict: verdict, Tests: tests, Attempt: 1, Created: at(c), Scheduled: at(s), TestStarted: at(ts), TestExited: at(te), End: at(e)}
}

// sample is four pods under a parallelism of two.
func sample() Chart {
	return Chart{RunID: "abcd1234", Bars: []Bar{
		bar("pod-1", Passed, 0, 0.5, 3, 4, 5, "tests/test_a.py::test_one"),
		bar("pod-2", Failed, 0, 1, 3.5, 9, 10, "tests/test_a.py::test_two[<a & b>]"),
		bar("pod-3", Passed, 5, 5.5, 7, 8, 9, "tests/test_b.py::TestC::test_x", "tests/test_b.py::TestC::test_y"),
		{Pod: "pod-4", Verdict: Error, Reason: "OOMKilled", Tests: []string{"tests/test_mem.py::test_big"}, Attempt: 2,
			Created: at(9), Scheduled: at(9.2), TestStarted: at(10), End: at(12)},
		// Never created (the run was cancelled first): in the table, not drawn.
		{Pod: "", Verdict: Error, Tests: []string{"tests/test_z.py::test_not_run"}},
	}}
}

func TestPhases(t *testing.T) {
	b := bar("p", Passed, 0, 1, 3, 7, 8)
	assert.Equal(t, []Phase{
		{PhaseWaiting, at(0), at(1)}, {PhaseStarting, at(1), at(3)}, {PhaseTesting, at(3), at(7)}, {PhaseCollecting, at(7), at(8)},
	}, b.Phases())
	assert.Equal(t, 8*time.Second, b.Duration())

	// A test that never exited (OOM kill seen as the pod's end): collecting
	// runs from the test's start.
	oom := sample().Bars[3]
	names := []string{}
	for _, p := range oom.Phases() {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{PhaseWaiting, PhaseStarting, PhaseCollecting}, names)
	assert.Empty(t, Bar{}.Phases())
}

func TestLanesAreSlots(t *testing.T) {
	lanes := sample().Lanes()
	require.Len(t, lanes, 2, "two pods at once at most")
	pods := func(l Lane) (out []string) {
		for _, b := range l.Bars {
			out = append(out, b.Pod)
		}
		return out
	}
	assert.Equal(t, []string{"pod-1", "pod-3", "pod-4"}, pods(lanes[0]), "pod-3 takes the slot pod-1 freed, pod-4 the one pod-3 freed")
	assert.Equal(t, []string{"pod-2"}, pods(lanes[1]))

	// The slot is free at the test's exit, while the pod is collected.
	overlap := Chart{Bars: []Bar{bar("a", Passed, 0, 0, 1, 4, 6), bar("b", Passed, 5, 5, 6, 7, 8)}}
	require.Len(t, overlap.Lanes(), 1)
	noExit := Chart{Bars: []Bar{{Pod: "a", Created: at(0), End: at(6)}, bar("b", Passed, 5, 5, 6, 7, 8)}}
	require.Len(t, noExit.Lanes(), 2, "without a test exit the pod holds its slot to its end")
}

func TestTotalsAndSlowest(t *testing.T) {
	c := sample()
	tot := c.Totals()
	assert.Equal(t, 0.5+1+0.5+0.2, tot[PhaseWaiting].Seconds())
	assert.Equal(t, 2.5+2.5+1.5+0.8, tot[PhaseStarting].Seconds())
	assert.Equal(t, 1+5.5+1.0, tot[PhaseTesting].Seconds())
	assert.Equal(t, "time in pods: 10% waiting, 33% starting, 34% testing, 23% collecting (22s in all)", TotalsLine(tot))
	slow := c.Slowest(2)
	require.Len(t, slow, 2)
	assert.Equal(t, "pod-2", slow[0].Pod)
	assert.Equal(t, "no pod was timed", TotalsLine(Chart{}.Totals()))
}

func TestWorse(t *testing.T) {
	assert.Equal(t, Failed, Worse(Passed, Failed))
	assert.Equal(t, Error, Worse(Error, Failed))
	assert.Equal(t, Flaky, Worse(Flaky, Passed))
	assert.Equal(t, Passed, Worse("", Passed))
}

// wellFormed parses doc as XML to its end.
func wellFormed(t *testing.T, doc string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		require.NoError(t, err)
	}
}

func TestSVG(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteSVG(&buf, sample()))
	doc := buf.String()
	wellFormed(t, doc)
	assert.True(t, strings.HasPrefix(doc, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<svg xmlns="http://www.w3.org/2000/svg"`))
	for _, b := range sample().Bars[:4] {
		for _, id := range b.Tests {
			assert.Contains(t, doc, esc(id), "hover title names %s", id)
		}
	}
	assert.Contains(t, doc, "tests/test_a.py::test_two[&lt;a &amp; b&gt;]", "test ids are escaped")
	assert.Equal(t, 4, strings.Count(doc, `<g class="pod `), "one group per timed pod")
	assert.Contains(t, doc, ">slot 1<")
	assert.Contains(t, doc, ">slot 2<")
	assert.NotContains(t, doc, ">slot 3<")
	assert.Contains(t, doc, `fill="`+verdictColor[Failed]+`"`, "the failed pod's test is red")
	assert.Contains(t, doc, "OOMKilled")
	// The whole run fits the plot: no bar starts left of it or ends right of it.
	for _, m := range regexp.MustCompile(`<rect x="([0-9.]+)" y="\d+" width="([0-9.]+)" height="16"`).FindAllStringSubmatch(doc, -1) {
		x, w := parse(t, m[1]), parse(t, m[2])
		assert.GreaterOrEqual(t, x, float64(marginLeft)-0.01)
		assert.LessOrEqual(t, x+w, float64(marginLeft+plotWidth)+0.11)
	}
}

func parse(t *testing.T, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}

func TestHTMLIsSelfContained(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, sample()))
	doc := buf.String()
	assert.True(t, strings.HasPrefix(doc, "<!DOCTYPE html>"))
	assert.Contains(t, doc, `<svg xmlns="http://www.w3.org/2000/svg"`, "the chart inline")
	for _, b := range sample().Bars {
		for _, id := range b.Tests {
			assert.Contains(t, doc, html.EscapeString(id), "the table names %s", id)
		}
	}
	assert.NotContains(t, doc, "<a & b>", "nothing unescaped")
	assert.Contains(t, doc, "time in pods: 10% waiting")
	// Nothing is fetched: no scripts, links, images or URLs but the SVG
	// namespace.
	for _, bad := range []string{"<script", "<link", "<img", "src=", "href=", "@import", "url("} {
		assert.NotContains(t, doc, bad)
	}
	urls := regexp.MustCompile(`https?://[^"\s<]+`).FindAllString(doc, -1)
	for _, u := range urls {
		assert.Equal(t, "http://www.w3.org/2000/svg", u)
	}
	// The table lists the slowest pod first.
	assert.Less(t, strings.Index(doc, "<td>pod-2</td>"), strings.Index(doc, "<td>pod-1</td>"))
}

func TestTickStep(t *testing.T) {
	assert.Equal(t, time.Second, tickStep(9*time.Second))
	assert.Equal(t, 5*time.Second, tickStep(42*time.Second))
	assert.Equal(t, time.Minute, tickStep(7*time.Minute))
	assert.Equal(t, "5s", tickLabel(5*time.Second))
	assert.Equal(t, "2m0s", tickLabel(2*time.Minute))
}

func TestMermaid(t *testing.T) {
	m := sample().Mermaid(2)
	assert.True(t, strings.HasPrefix(m, "```mermaid\ngantt\n"), m)
	assert.Contains(t, m, "    title The 2 slowest pods, time since the first pod\n")
	assert.Contains(t, m, "    dateFormat x\n")
	assert.Contains(t, m, "    section tests/test_a.py::test_two[<a & b>] (failed, 10.0s)\n"+
		"    waiting :done, 0, 1000\n"+
		"    starting :1000, 3500\n"+
		"    testing :crit, 3500, 9000\n"+
		"    collecting :done, 9000, 10000\n")
	assert.Contains(t, m, "    section tests/test_a.py::test_one (passed, 5.0s)\n")
	assert.NotContains(t, m, "test_mem", "only the slowest two")
	assert.True(t, strings.HasSuffix(m, "```\n\ntime in pods: 10% waiting, 33% starting, 34% testing, 23% collecting (22s in all)\n"), m)
	assert.Empty(t, Chart{}.Mermaid(5))

	// A hostile test id cannot end the statement or the block.
	evil := Chart{Bars: []Bar{bar("p", Passed, 0, 0, 1, 2, 3, "t.py::x[;\n```\n#y]")}}
	m = evil.Mermaid(1)
	assert.Equal(t, 2, strings.Count(m, "```"))
	assert.Contains(t, m, "section t.py::x[       y] (passed, 3.0s)\n")

	var many Chart
	for i := range 500 {
		many.Bars = append(many.Bars, bar(fmt.Sprint("p", i), Passed, 0, 0, 1, float64(2+i), float64(3+i), strings.Repeat("x", 300)))
	}
	assert.Less(t, len(many.Mermaid(10)), 4<<10, "a few kilobytes whatever the run's size")
}

// The API server's times have whole seconds while a pod's creation is
// this process's clock: the first pod, created at 0.923 s, is scheduled
// "at 0" and its container started "at 1". No bar of the gantt may start
// before the first pod (a per-file run once drew `starting :-923, 1036`).
func TestMermaidNoBarBeforeTheFirstPod(t *testing.T) {
	c := Chart{Bars: []Bar{
		{Pod: "p1", Verdict: Passed, Tests: []string{"t.py::a"}, Created: at(0.923), Scheduled: at(0), TestStarted: at(1.959), TestExited: at(5), End: at(6)},
		// Its container's start truncated to before its creation too.
		{Pod: "p2", Verdict: Failed, Tests: []string{"t.py::b"}, Created: at(2.5), Scheduled: at(2), TestStarted: at(2), TestExited: at(4), End: at(4.5)},
		bar("p3", Passed, 3, 3.2, 3.5, 4, 4.2, "t.py::c"),
	}}
	m := c.Mermaid(10)
	bars := regexp.MustCompile(`(?m)^    (\w+) :(?:\w+, )?(-?\d+), (-?\d+)$`).FindAllStringSubmatch(m, -1)
	require.NotEmpty(t, bars, m)
	for _, b := range bars {
		from, _ := strconv.Atoi(b[2])
		to, _ := strconv.Atoi(b[3])
		assert.GreaterOrEqual(t, from, 0, "%s starts before the first pod:\n%s", b[1], m)
		assert.Greater(t, to, from, "%s ends after it starts:\n%s", b[1], m)
	}
	assert.Contains(t, m, "    starting :0, 1036\n", "the first pod starts at the origin")
	// A phase never starts before its pod was created, in every drawing.
	for _, b := range c.Bars {
		for _, p := range b.Phases() {
			assert.False(t, p.Start.Before(b.Created), "%s %s starts before its pod", b.Pod, p.Name)
		}
	}
}
