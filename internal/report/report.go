package report

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// CaseResult is the standing of one case at the end of the run.
type CaseResult struct {
	Case     plan.Case
	Status   plan.Status
	Flaky    bool
	Final    bool
	Attempts []attempt.Attempt
	// Stopped marks a case the run stopped (MaxFailures) before it had a
	// verdict.
	Stopped bool
	// NotAffected, for a case --affected-since left out, is the commit it
	// last passed at.
	NotAffected string
}

// Report is a finished (or interrupted) run, ready to be written out.
type Report struct {
	RunID       string
	Image       string
	ImageDigest string
	Started     time.Time
	Wall        time.Duration
	Cases       []CaseResult
	// Coverage is the combined coverage of a run with --coverage.
	Coverage *coverage.Summary
	// APICoverage is the run's API coverage, with --api-coverage.
	APICoverage *apicov.Report
	// Bases are the base images of a runtime matrix, indexed by each
	// case's Base; nil (or one) for a run of one base.
	Bases []Base
	// Quarantine excuses the failures of the tests it names, until each
	// entry's date, judged at Started; nil for none.
	Quarantine *quarantine.List
}

// NewReport gathers a run's results.
func NewReport(runID, image, digest string, started time.Time, wall time.Duration, cases []CaseResult) *Report {
	return &Report{RunID: runID, Image: image, ImageDigest: digest, Started: started, Wall: wall, Cases: cases}
}

// Counts totals the cases.
func (r *Report) Counts() Counts {
	var c Counts
	for _, cr := range r.Cases {
		_, quarantined := r.Quarantined(cr)
		c.Add(Tally{
			Status: cr.Status, NotRun: len(cr.Attempts) == 0, Stopped: cr.Stopped,
			Flaky: cr.Flaky, Infra: IsInfra(cr.Last().Outcome), Quarantined: quarantined,
			NotAffected: cr.NotAffected != "",
		})
	}
	return c
}

// ExitCode picks ok, failed or infra: infra when a case ended for an
// infrastructure reason or never ran (other than by a stop at the maximum
// of failures, which failures caused), failed when pytest reported a
// failure or an error, ok otherwise.
func (r *Report) ExitCode(ok, failed, infra int) int {
	c := r.Counts()
	switch {
	case c.Infra > 0 || c.NotRun > c.Stopped:
		return infra
	case c.Failed > 0 || c.Errors > 0:
		return failed
	default:
		return ok
	}
}

// StoppedMessage is the message of a test left out by a run that stopped
// at its maximum of failures.
const StoppedMessage = "not run: the run stopped on reaching its maximum of failed tests (max failures)"

// Last is the case's last collected attempt.
func (cr CaseResult) Last() attempt.Attempt {
	if len(cr.Attempts) == 0 {
		return attempt.Attempt{Outcome: plan.Outcome{ExitCode: -1}}
	}
	return cr.Attempts[len(cr.Attempts)-1]
}

// IsInfra reports an outcome that has an infrastructure cause rather than a
// verdict of pytest's.
func IsInfra(o plan.Outcome) bool {
	return o.Status == plan.Error && o.Reason != ""
}

// JUnit builds the merged report: one testsuite for the run, or one per
// base image of a runtime matrix, and one testcase per test id (per base),
// from pytest's own entry where there is one.
func (r *Report) JUnit() junit.Testsuites {
	tcs := r.Testcases()
	if r.Matrix() {
		return r.matrixJUnit(tcs)
	}
	suite := junit.Testsuite{
		Name:      "k8s-testrun " + r.RunID,
		Time:      junit.Seconds(r.Wall),
		Timestamp: r.Started.UTC().Format(time.RFC3339),
		Properties: []junit.Property{
			{Name: "k8s-testrun.run", Value: r.RunID},
			{Name: "k8s-testrun.image", Value: r.Image},
		},
		Testcases: tcs,
	}
	return junit.Testsuites{Name: "k8s-testrun", Time: suite.Time, Suites: []junit.Testsuite{suite}}
}

// Testcases are the report's JUnit testcases, one per case, in the order
// of Cases.
func (r *Report) Testcases() []junit.Testcase {
	lanes := r.hasLanes()
	out := make([]junit.Testcase, 0, len(r.Cases))
	for _, cr := range r.Cases {
		out = append(out, r.testcase(cr, lanes))
	}
	return out
}

// testcase is cr's JUnit testcase; lanes says the run has marker lanes,
// so that it names its lane.
func (r *Report) testcase(cr CaseResult, lanes bool) junit.Testcase {
	last := cr.Last()
	tc := junit.NewTestcase(cr.Case.TestID)
	if own := last.Results.Testcase; own != nil {
		tc = *own
		tc.Properties = nil
		if tc.File != "" && tc.File != testid.File(cr.Case.TestID) {
			// The pod wrote it: a file that is not the test's own (a
			// forged one, or a base class's) leads the summary's links and
			// annotations astray, and its line with it.
			tc.File, tc.Line = "", 0
		}
	}
	tc.SystemOut, tc.SystemErr = nil, nil
	if last.Results.Output != "" {
		tc.SystemOut = &junit.Output{Text: last.Results.Output}
	}
	o := last.Outcome
	switch {
	case len(cr.Attempts) == 0:
		tc.Failure, tc.Skipped = nil, nil
		tc.Error = &junit.Result{Type: "NotRun", Message: "the run ended before this test ran"}
		if cr.Stopped {
			tc.Error.Message = StoppedMessage
		}
	case IsInfra(o) || (o.Status == plan.Error && tc.Error == nil) || (o.Status == plan.Failed && tc.Failure == nil):
		// The verdict is the API server's; pytest's entry, if any, is
		// incomplete.
		tc.Failure, tc.Error, tc.Skipped = nil, nil, nil
		res := &junit.Result{Type: o.Reason, Message: o.Message}
		if o.Status == plan.Failed {
			tc.Failure = res
		} else {
			if o.Reason != "" {
				res.Message = o.Reason + ": " + o.Message
			}
			tc.Error = res
		}
		if tc.Time == "" && !last.Finished.IsZero() {
			tc.Time = junit.Seconds(last.Finished.Sub(last.Started))
		}
	}
	tc.AddProperty(junit.PropertyTestID, cr.Case.TestID)
	if last.Pod != "" {
		tc.AddProperty(junit.PropertyPod, last.Pod)
	}
	if last.Node != "" {
		tc.AddProperty(junit.PropertyNode, last.Node)
	}
	if last.Number > 0 {
		tc.AddProperty(junit.PropertyAttempt, strconv.Itoa(last.Number))
	}
	if d := r.imageDigest(cr.Case); d != "" {
		tc.AddProperty(junit.PropertyImageDigest, d)
	}
	if cr.Flaky {
		tc.AddProperty(junit.PropertyFlaky, "true")
	}
	if c, ok := r.APICoverage.Of(cr.Case.TestID); ok {
		tc.AddProperty(apicov.PropertyEndpoints, strconv.Itoa(len(c.Endpoints)))
	}
	if e, ok := r.Quarantined(cr); ok {
		tc.AddProperty(PropertyQuarantined, e.Describe())
	}
	if cr.NotAffected != "" {
		tc.AddProperty(junit.PropertyNotAffected, cr.NotAffected)
	}
	if lanes {
		lane := cr.Case.Lane
		if lane == "" {
			lane = DefaultLane
		}
		tc.AddProperty(junit.PropertyLane, lane)
	}
	addAttempts(&tc, cr)
	return tc
}

// hasLanes reports a run with a test in a marker lane.
func (r *Report) hasLanes() bool {
	for _, cr := range r.Cases {
		if cr.Case.Lane != "" {
			return true
		}
	}
	return false
}

// WriteJUnit writes the merged JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	return junit.Write(w, r.JUnit())
}

// SummaryCases converts the results into the summary's view of them.
func (r *Report) SummaryCases() []Case {
	out := make([]Case, 0, len(r.Cases))
	tcs := r.Testcases()
	labels := r.BaseLabels()
	for i, cr := range r.Cases {
		tc := tcs[i]
		c := Case{
			TestID: cr.Case.TestID, Status: tc.Status(), File: tc.File, Line: tc.Line,
			Duration: tc.Duration(), Attempts: len(cr.Attempts), Flaky: cr.Flaky,
			Reason: cr.Last().Outcome.Reason, NotRun: len(cr.Attempts) == 0,
			Lane: cr.Case.Lane, NotAffected: cr.NotAffected != "",
		}
		if e, ok := r.Quarantined(cr); ok {
			c.Quarantined = e.Describe()
		}
		if labels != nil {
			c.Base = labels[cr.Case.Base]
		}
		for _, at := range cr.Attempts {
			if at.Outcome.Disrupted() {
				c.Disruptions = append(c.Disruptions, Disruption{Attempt: at.Number, Reason: at.Outcome.Reason,
					Start: formatTime(at.Started), End: formatTime(at.Finished), Pod: at.Pod})
			}
		}
		if d := tc.Detail(); d != nil {
			c.Message = d.Message
		}
		out = append(out, c)
	}
	return out
}

// WriteArtifacts writes the files each case's last attempt shipped under
// dir/<case>/, where <case> is the test id made safe for a path plus its
// case id, and returns how many it wrote.
//
// Every file is opened relative to dir through an os.Root, so no name and
// no symbolic link found on the way (one in a checkout, say) leads outside
// dir; a symbolic link where a file goes is replaced, never written
// through. dir itself must not be a symbolic link.
//
// A file that cannot be written (a name that leaves its directory, a link
// on its way) is skipped, and the others still are written: the error is
// then an *ArtifactsSkippedError naming what was skipped and why.
func (r *Report) WriteArtifacts(dir string) (int, error) {
	n := 0
	var root *os.Root
	defer func() {
		if root != nil {
			root.Close()
		}
	}()
	skipped := &ArtifactsSkippedError{}
	for _, cr := range r.Cases {
		files := cr.Last().Results.Artifacts
		if len(files) == 0 {
			continue
		}
		if root == nil {
			var err error
			if root, err = openArtifactsRoot(dir); err != nil {
				return n, err
			}
		}
		caseDir := ArtifactDir(cr.Case)
		for _, f := range files {
			if err := writeArtifact(root, caseDir, f); err != nil {
				skipped.add(fmt.Sprintf("artifact %q of %s: %v", f.Name, cr.Case.TestID, err))
				continue
			}
			n++
		}
	}
	if skipped.N > 0 {
		return n, skipped
	}
	return n, nil
}

func writeArtifact(root *os.Root, caseDir string, f transport.File) error {
	name := filepath.Join(caseDir, filepath.FromSlash(f.Name))
	if !fs.ValidPath(f.Name) || f.Name == "." || strings.ContainsRune(f.Name, 0) ||
		!filepath.IsLocal(name) || !strings.HasPrefix(name, caseDir+string(filepath.Separator)) {
		return errors.New("not a relative path inside the test's directory")
	}
	data, err := artifactData(f)
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if err := writeInRoot(root, name, data); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// maxSkippedNotes bounds the notes an ArtifactsSkippedError keeps.
const maxSkippedNotes = 10

// ArtifactsSkippedError lists artifacts WriteArtifacts skipped: the first
// few with the reason, and how many in all.
type ArtifactsSkippedError struct {
	N     int
	Notes []string
}

func (e *ArtifactsSkippedError) add(note string) {
	e.N++
	if len(e.Notes) < maxSkippedNotes {
		e.Notes = append(e.Notes, note)
	}
}

func (e *ArtifactsSkippedError) Error() string {
	msg := fmt.Sprintf("skipped %d artifacts: %s", e.N, strings.Join(e.Notes, "; "))
	if more := e.N - len(e.Notes); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return msg
}

func openArtifactsRoot(dir string) (*os.Root, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("writing artifacts: %w", err)
	}
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("artifacts directory %q is a symbolic link; give a real directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("writing artifacts: %w", err)
	}
	return root, nil
}

// writeInRoot creates name under root afresh: whatever was there, a
// symbolic link included, is removed first, and O_EXCL makes the create
// fail rather than follow a link that appeared since.
func writeInRoot(root *os.Root, name string, data []byte) error {
	if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ArtifactDir is the directory name of a case's artifacts.
func ArtifactDir(c plan.Case) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, c.TestID)
	if len(safe) > 100 {
		safe = safe[:100]
	}
	return safe + "-" + c.ID
}
