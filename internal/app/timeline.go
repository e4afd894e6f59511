package app

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/timeline"
)

// Timeline files, written beside the JUnit report.
const (
	timelineHTML = "timeline.html"
	timelineSVG  = "timeline.svg"
)

// writeTimeline writes the run's timeline as HTML and SVG in the JUnit
// report's directory and returns their paths.
func writeTimeline(junitPath string, rep *report.Report) ([]string, error) {
	chart := chartOf(rep)
	dir := filepath.Dir(junitPath)
	var paths []string
	for name, write := range map[string]func(*os.File) error{
		timelineHTML: func(f *os.File) error { return timeline.WriteHTML(f, chart) },
		timelineSVG:  func(f *os.File) error { return timeline.WriteSVG(f, chart) },
	} {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return paths, fmt.Errorf("writing the timeline: %w", err)
		}
		if err := write(f); err != nil {
			f.Close()
			return paths, fmt.Errorf("writing %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return paths, fmt.Errorf("writing %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// chartOf is the run's timeline: one bar per pod, with the tests it ran,
// coloured by the worst verdict among them.
func chartOf(rep *report.Report) timeline.Chart {
	c := timeline.Chart{RunID: rep.RunID}
	index := map[string]int{}
	for _, cr := range rep.Cases {
		for i, a := range cr.Attempts {
			if a.Pod == "" {
				continue
			}
			j, ok := index[a.Pod]
			if !ok {
				tl := a.Timeline
				end := tl.Deleted
				if end.IsZero() {
					end = tl.Collected
				}
				if end.IsZero() {
					end = tl.Seen
				}
				j = len(c.Bars)
				index[a.Pod] = j
				c.Bars = append(c.Bars, timeline.Bar{
					Pod: a.Pod, Node: a.Node, Attempt: a.Number,
					Created: tl.Created, Scheduled: tl.Scheduled, TestStarted: tl.TestStarted, TestExited: tl.TestExited, End: end,
				})
			}
			b := &c.Bars[j]
			b.Tests = append(b.Tests, cr.Case.TestID)
			v := verdictWord(a.Outcome.Status)
			if v == timeline.Passed && cr.Flaky && i == len(cr.Attempts)-1 {
				v = timeline.Flaky
			}
			b.Verdict = timeline.Worse(b.Verdict, v)
			if a.Outcome.Reason != "" {
				b.Reason = a.Outcome.Reason
			}
		}
	}
	return c
}

func verdictWord(s plan.Status) string {
	switch s {
	case plan.Passed:
		return timeline.Passed
	case plan.Failed:
		return timeline.Failed
	case plan.Skipped:
		return timeline.Skipped
	default:
		return timeline.Error
	}
}
