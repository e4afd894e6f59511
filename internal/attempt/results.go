// Package attempt owns what one attempt of a test yields: the outcome the
// API server gives, the results its collector ships (parsed from the
// collector's log), the verdict those settle on, and the pod's timeline.
// Direct mode and operator mode collect attempts through it alike.
package attempt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// Results are what the collector shipped for one attempt.
type Results struct {
	// Testcase is pytest's own JUnit entry for the test, if it wrote one.
	Testcase *junit.Testcase
	// Output is the test process's captured stdout and stderr.
	Output string
	// ExitCode is what the shim recorded, -1 when it recorded nothing.
	ExitCode int
	// Artifacts are the files the test wrote under the artifacts directory,
	// named relative to it.
	Artifacts []transport.File
	// Truncated lists what the collector cut to stay under its size cap.
	Truncated string
	// Coverage are coverage.py's data files, named as the test process
	// wrote them; the run moves them to disk as soon as it reads them.
	Coverage []transport.File

	// Cases are the entries the streaming plugin of a unit's pod wrote, by
	// pytest node id, one per test that finished.
	Cases map[string]CaseReport
	// Running names the test that was running when the collector shipped:
	// the one a pod that died took with it.
	Running string
	// TimedOut names the test the shim stopped at its timeout.
	TimedOut string
	// TestStart and TestExit are when the test process started and exited,
	// as the shim saw them; zero when it did not record them.
	TestStart, TestExit time.Time
}

// CaseReport is one finished test of a unit's pod.
type CaseReport struct {
	Testcase    *junit.Testcase
	Start, Stop time.Time
}

// streamEntry is a file the streaming plugin writes (cases/NNNNNN.json).
type streamEntry struct {
	NodeID    string   `json:"nodeid"`
	Start     float64  `json:"start"`
	Stop      float64  `json:"stop"`
	Testcases []string `json:"testcases"`
}

func unixSeconds(f float64) time.Time {
	if f <= 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(f*1e9))
}

// parseStreamEntry reads one plugin entry; its first <testcase> is the
// test's, as pytest's own JUnit file would list it first.
func parseStreamEntry(data []byte) (string, CaseReport, error) {
	var e streamEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return "", CaseReport{}, err
	}
	rep := CaseReport{Start: unixSeconds(e.Start), Stop: unixSeconds(e.Stop)}
	if len(e.Testcases) > 0 {
		suites, err := junit.Parse(strings.NewReader("<testsuite>" + strings.Join(e.Testcases, "") + "</testsuite>"))
		if err != nil {
			return e.NodeID, rep, err
		}
		if len(suites.Suites) > 0 && len(suites.Suites[0].Testcases) > 0 {
			tc := suites.Suites[0].Testcases[0]
			rep.Testcase = &tc
		}
	}
	return e.NodeID, rep, nil
}

// runningTest reads the plugin's current (or the shim's timedout) file.
func runningTest(data []byte) string {
	var cur struct {
		NodeID string `json:"nodeid"`
	}
	if json.Unmarshal(data, &cur) != nil {
		return ""
	}
	return cur.NodeID
}

const casesPrefix = layout.CasesDir + "/"

// ParseResults decodes the collector's log into Results.
func ParseResults(log []byte) (Results, error) {
	files, err := transport.Decode(bytes.NewReader(log))
	if err != nil {
		return Results{ExitCode: -1}, fmt.Errorf("reading results block: %w", err)
	}
	res := Results{ExitCode: -1}
	artifacts := strings.TrimPrefix(layout.ArtifactsDir, layout.ResultsDir+"/") + "/"
	for _, f := range files {
		switch {
		case f.Name == layout.JUnitFile:
			suites, err := junit.Parse(bytes.NewReader(f.Data))
			if err != nil {
				return res, fmt.Errorf("reading %s: %w", layout.JUnitFile, err)
			}
			for _, s := range suites.Suites {
				if len(s.Testcases) > 0 && res.Testcase == nil {
					tc := s.Testcases[0]
					res.Testcase = &tc
				}
			}
		case f.Name == layout.OutputFile:
			res.Output = string(f.Data)
		case f.Name == layout.ExitCodeFile:
			if n, err := strconv.Atoi(strings.TrimSpace(string(f.Data))); err == nil {
				res.ExitCode = n
			}
		case f.Name == transport.TruncatedFile:
			res.Truncated = string(f.Data)
		case f.Name == layout.TimesFile:
			var t struct{ Start, Exit int64 }
			if json.Unmarshal(f.Data, &t) == nil && t.Start > 0 && t.Exit >= t.Start {
				res.TestStart, res.TestExit = time.Unix(0, t.Start), time.Unix(0, t.Exit)
			}
		case f.Name == casesPrefix+layout.CurrentFile:
			res.Running = runningTest(f.Data)
		case f.Name == casesPrefix+layout.TimedOutFile:
			res.TimedOut = runningTest(f.Data)
		case strings.HasPrefix(f.Name, casesPrefix) && strings.HasSuffix(f.Name, ".json"):
			id, rep, err := parseStreamEntry(f.Data)
			if err != nil || id == "" {
				continue // a partial entry tells nothing; the test counts as not finished
			}
			if res.Cases == nil {
				res.Cases = map[string]CaseReport{}
			}
			if _, seen := res.Cases[id]; !seen {
				res.Cases[id] = rep
			}
		case strings.HasPrefix(f.Name, transport.CoverageDir+"/"):
			f.Name = strings.TrimPrefix(f.Name, transport.CoverageDir+"/")
			res.Coverage = append(res.Coverage, f)
		case strings.HasPrefix(f.Name, artifacts):
			f.Name = strings.TrimPrefix(f.Name, artifacts)
			res.Artifacts = append(res.Artifacts, f)
		}
	}
	return res, nil
}

// Settle refines the outcome the API server gave with pytest's own verdict.
// An infrastructure outcome stands whatever the results say, and a missing
// result never changes the outcome: exit code 0 stays passed, 1 stays failed.
func Settle(o plan.Outcome, res Results) plan.Outcome {
	tc := res.Testcase
	if o.Reason != "" || tc == nil {
		if o.Status == plan.Failed && tc == nil && o.Message == "" {
			o.Message = "pytest exited with code 1 and wrote no JUnit result"
		}
		return o
	}
	switch st := tc.Status(); {
	case o.Status == plan.Passed && st == plan.Skipped:
		o.Status = plan.Skipped
	case o.Status == plan.Failed && st == plan.Error:
		// An exception in a fixture: a test error, not an infrastructure one.
		o.Status = plan.Error
	}
	if d := tc.Detail(); d != nil && o.Message == "" {
		o.Message = d.Message
	}
	return o
}
