package ghaction

import (
	"encoding/json"
	"path"
	"strconv"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/github"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// Test is one test's final result as the summary and the annotations show
// it.
type Test struct {
	report.Case
	// Path is the test's file relative to the repository root.
	Path string
	// FailLine is the line that failed, from pytest's traceback, when it is
	// in the test's own file; else the test's line.
	FailLine int
	// Details is pytest's long report of a failure or error.
	Details string
	// Ran is false for a test the run ended before.
	Ran bool
	// NewFailure marks a failure the compared base did not have.
	NewFailure bool
}

// Problem reports a failed or errored test that ran, and that no
// quarantine excused.
func (t Test) Problem() bool {
	return t.failedOrErrored() && t.Quarantined == ""
}

// Excused reports a failed or errored test that a quarantine excused.
func (t Test) Excused() bool {
	return t.failedOrErrored() && t.Quarantined != ""
}

func (t Test) failedOrErrored() bool {
	return t.Ran && (t.Status == junit.StatusFailed || t.Status == junit.StatusError)
}

// Tests lists the report's tests. projectPrefix is the project directory
// relative to the repository root: pytest names files relative to the
// project, GitHub wants them relative to the repository.
func Tests(rep *report.Report, projectPrefix string) []Test {
	if rep == nil {
		return nil
	}
	cases := rep.SummaryCases()
	tcs := rep.Testcases()
	out := make([]Test, len(cases))
	for i, c := range cases {
		t := Test{Case: c, FailLine: c.Line, Ran: len(rep.Cases[i].Attempts) > 0}
		if t.File == "" {
			t.File, _, _ = strings.Cut(c.TestID, "::")
		}
		if t.File != "" {
			t.Path = path.Join(projectPrefix, t.File)
		}
		if d := tcs[i].Detail(); d != nil && t.Status != junit.StatusSkipped {
			t.Details = d.Text
			if n := failingLine(d.Text, t.File); n > 0 {
				t.FailLine = n
			}
		}
		out[i] = t
	}
	return out
}

// failingLine finds pytest's "file:line: ExceptionType" line for file in a
// long report, the last one being where the test itself failed.
func failingLine(text, file string) int {
	if file == "" {
		return 0
	}
	lines := strings.Split(text, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), file+":")
		if !ok {
			continue
		}
		num, _, ok := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(num); ok && err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// Annotations gives one annotation per failed or errored test, at the line
// that failed: a failure, or a warning for a quarantined test's.
func Annotations(tests []Test) []github.Annotation {
	var out []github.Annotation
	for _, t := range tests {
		if !t.Problem() && !t.Excused() {
			continue
		}
		level, title := github.LevelFailure, report.Headline(t.Case, report.Compact)
		if t.Excused() {
			level, title = github.LevelWarning, "QUARANTINED "+title
		}
		if t.NewFailure && t.Problem() {
			title = "NEW " + title
		}
		line := t.FailLine
		if line < 1 {
			line = 1
		}
		msg := t.Message
		if strings.TrimSpace(msg) == "" {
			msg = string(t.Status)
		}
		if t.Excused() {
			msg = "Quarantined: " + t.Quarantined + "\n" + msg
		}
		// GitHub keeps 64 KB of an annotation; a workflow command carries
		// it escaped, so the cut leaves room for that.
		out = append(out, github.Annotation{
			Path: t.Path, StartLine: line, Level: level,
			Title: title, Message: junit.CutHead(msg, maxAnnotationMessage), Details: junit.CutHead(t.Details, maxAnnotationMessage),
		})
	}
	return out
}

// maxAnnotationMessage bounds an annotation's message and details.
const maxAnnotationMessage = 32 << 10

// Outputs are the step outputs action.yml declares, in its order; a test
// checks that they agree.
var Outputs = []Input{
	{Name: "total", Description: "Number of tests."},
	{Name: "passed", Description: "Tests that passed."},
	{Name: "failed", Description: "Tests that failed."},
	{Name: "errors", Description: "Tests that errored, for pytest's reasons or the infrastructure's."},
	{Name: "skipped", Description: "Tests that were skipped."},
	{Name: "flaky", Description: "Tests that passed on a retry."},
	{Name: "duration", Description: "Wall time of the run in seconds."},
	{Name: "junit_path", Description: "Path of the JUnit XML report, relative to the workspace."},
	{Name: "image", Description: "The test image that was built and pushed."},
	{Name: "check_url", Description: "Page of the check run; empty when the token could not write checks."},
	{Name: "attempts", Description: "Path, relative to the workspace, of a JSON file with every attempt of every test: number, status, reason, whether it was an infrastructure retry, start and end (RFC 3339), pod and node."},
	{Name: "coverage", Description: "With coverage: true, the percentage of lines the tests ran, all pods combined, e.g. 87.5; empty otherwise."},
	{Name: "coverage_xml", Description: "With coverage: true, path of the Cobertura coverage.xml, beside the JUnit report, relative to the workspace; empty otherwise."},
	{Name: "matrix", Description: `In a runtime matrix (several base_image lines), the counts of each base as a JSON list, in the order given: [{"base": "python:3.11-slim", "image": "the test image built on it", "python": "3.11.2", "total": 12, "passed": 7, "failed": 2, "errors": 1, "skipped": 2, "flaky": 0, "not_run": 0}]; empty otherwise.`},
}

// StepOutputs gives the outputs' values. rep may be nil when no test ran.
func StepOutputs(rep *report.Report, junitPath, image, checkURL string) []Output {
	var c report.Counts
	wall := "0"
	if rep != nil {
		c = rep.Counts()
		wall = strconv.FormatFloat(rep.Wall.Seconds(), 'f', 1, 64)
	}
	return []Output{
		{"total", strconv.Itoa(c.Total)},
		{"passed", strconv.Itoa(c.Passed)},
		{"failed", strconv.Itoa(c.Failed)},
		{"errors", strconv.Itoa(c.Errors)},
		{"skipped", strconv.Itoa(c.Skipped)},
		{"flaky", strconv.Itoa(c.Flaky)},
		{"duration", wall},
		{"junit_path", junitPath},
		{"image", image},
		{"check_url", checkURL},
		{"attempts", attemptsPath(rep, junitPath)},
		{"coverage", coveragePercent(rep)},
		{"coverage_xml", coveragePath(rep, junitPath)},
		{"matrix", matrixCounts(rep)},
	}
}

// coveragePercent is the run's combined coverage, without the % sign.
func coveragePercent(rep *report.Report) string {
	if rep == nil || rep.Coverage == nil {
		return ""
	}
	return strings.TrimSuffix(rep.Coverage.Total(), "%")
}

// coveragePath is where the run wrote coverage.xml: beside the JUnit
// report, relative to the workspace.
func coveragePath(rep *report.Report, junitPath string) string {
	if rep == nil || rep.Coverage == nil || junitPath == "" {
		return ""
	}
	return path.Join(path.Dir(junitPath), coverage.ReportFile)
}

// attemptsPath is where the run wrote every attempt of every test (see
// report.Report.WriteAttempts): beside the JUnit report, relative to the
// workspace; empty without a report.
func attemptsPath(rep *report.Report, junitPath string) string {
	if rep == nil || junitPath == "" {
		return ""
	}
	return path.Join(path.Dir(junitPath), report.AttemptsFile)
}

// baseCounts is one base's entry in the matrix output.
type baseCounts struct {
	Base    string `json:"base"`
	Image   string `json:"image"`
	Python  string `json:"python"`
	Total   int    `json:"total"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Errors  int    `json:"errors"`
	Skipped int    `json:"skipped"`
	Flaky   int    `json:"flaky"`
	NotRun  int    `json:"not_run"`
}

// matrixCounts is the matrix output: each base's counts as JSON, in the
// order of the bases; empty outside a runtime matrix.
func matrixCounts(rep *report.Report) string {
	if rep == nil || !rep.Matrix() {
		return ""
	}
	out := make([]baseCounts, len(rep.Bases))
	for i, c := range rep.BaseCounts() {
		b := rep.Bases[i]
		out[i] = baseCounts{Base: b.Ref, Image: b.Image, Python: b.Python, Total: c.Total, Passed: c.Passed, Failed: c.Failed,
			Errors: c.Errors, Skipped: c.Skipped, Flaky: c.Flaky, NotRun: c.NotRun}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return ""
	}
	return string(data)
}
