package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// noImageCoverage is the error of --coverage with a test image whose
// Python has no coverage.py.
func noImageCoverage(baseImage string) error {
	return &config.Error{Input: "coverage", Fix: fmt.Sprintf("the test image (base %s plus the requirements) has no coverage.py: "+
		"add coverage to your requirements, or use a base image with it (Debian's python3-coverage)", baseImage)}
}

// coverageDir is where, with --coverage, the pods' data files are kept
// until they are combined; "" without.
func (p *pipeline) coverageDir() (string, error) {
	if !p.cfg.Coverage {
		return "", nil
	}
	dir, err := os.MkdirTemp("", "k8s-testrun-coverage-")
	if err != nil {
		return "", fmt.Errorf("creating a directory for the coverage data: %w", err)
	}
	return dir, nil
}

// coveragePath is where coverage.xml goes: beside the JUnit report.
func coveragePath(junitPath string) string {
	return filepath.Join(filepath.Dir(junitPath), coverage.ReportFile)
}

// coverageRole labels the run's coverage pod.
const coverageRole = "coverage"

// maxCoverageLog bounds what is read of the coverage pod's log: its block,
// and room for a line or two of its own.
const maxCoverageLog = coverage.BlockLimit + 64<<10

// combineCoverage merges the pods' data into coverage.xml and the report,
// in the cluster: the data files and the rcfile k8s-testrun writes go, as
// one more layer, on top of the test image, and one pod of that image
// combines them with the coverage.py every test pod ran under, then prints
// the Cobertura report through its log. Nothing of it runs here.
func (p *pipeline) combineCoverage(ctx context.Context, dir string, rep *report.Report) error {
	start := time.Now()
	files, err := p.coverageFiles(dir)
	if err != nil {
		return err
	}

	pushed, err := p.pushedImage(p.image.Digest)
	if err != nil {
		return fmt.Errorf("combining coverage: %w", err)
	}
	img, err := build.Overlay(ctx, build.OverlayOptions{
		Image:    pushed.String(),
		Files:    files,
		What:     "coverage data at " + layout.CoverageDir,
		Insecure: p.insecureRegistry,
		Logger:   p.log,
	})
	if err != nil {
		return fmt.Errorf("combining coverage: %w", err)
	}
	image, err := pullReference(img.Image, p.cfg.PullRegistry)
	if err != nil {
		return err
	}
	pod, err := k8s.OneOffPod(k8s.OneOffOptions{
		Namespace: p.cluster.Namespace, RunID: p.runID, Role: coverageRole, Image: image,
		Command:  []string{layout.BinaryPath, coverage.Role, "--rcfile", coverage.RcfilePath},
		Timeout:  discoveryTimeout(p.cfg.Timeout),
		Template: p.template,
	})
	if err != nil {
		return err
	}
	p.log.Info("combining coverage", "pod", pod.Name, "uploaded_bytes", img.UploadedBytes)
	out, log, err := k8s.RunOnce(ctx, p.cluster.Client, pod, k8s.ObserveOptions{PendingTimeout: p.cfg.PendingTimeout, LogLimit: maxCoverageLog})
	if err != nil {
		return fmt.Errorf("combining coverage: %w", err)
	}
	if out.ExitCode != 0 || out.Reason != "" {
		why := fmt.Sprintf("exit code %d", out.ExitCode)
		switch {
		case out.ExitCode < 0:
			why = out.Reason
		case out.Reason != "":
			why = out.Reason + ", " + why
		}
		return fmt.Errorf("combining coverage in pod %s: %s: %s", pod.Name, why, lastLogLine(log, out.Message))
	}
	return p.writeCoverage(rep, pod.Name, log, start)
}

// coverageFiles lists the pods' coverage data files under dir and writes
// the rcfile beside them: the files of the layer that combines them.
func (p *pipeline) coverageFiles(dir string) ([]build.OverlayFile, error) {
	data, err := filepath.Glob(filepath.Join(dir, coverage.DataPrefix+".*"))
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("combining coverage: no pod shipped a coverage data file")
	}
	var size int64
	files := make([]build.OverlayFile, 0, len(data)+1)
	for _, f := range data {
		if info, err := os.Stat(f); err == nil {
			size += info.Size()
		}
		files = append(files, build.OverlayFile{Path: path.Join(coverage.DataDir, filepath.Base(f)), Src: f})
	}
	p.log.Info("combining coverage data", "files", len(data), "bytes", size)
	user, err := coverage.ReadProjectRcfile(p.cfg.ProjectDir)
	if err != nil {
		return nil, fmt.Errorf("reading the project's coverage configuration: %w", err)
	}
	rc := filepath.Join(dir, "coveragerc")
	if err := os.WriteFile(rc, []byte(coverage.Rcfile(layout.WorkDir, user)), 0o644); err != nil {
		return nil, fmt.Errorf("combining coverage: %w", err)
	}
	files = append(files, build.OverlayFile{Path: coverage.RcfilePath, Src: rc})
	return files, nil
}

// writeCoverage reads the combined Cobertura report out of the coverage
// pod's log, keeps the footprints for the history, and writes the report
// beside the JUnit report and into rep.
func (p *pipeline) writeCoverage(rep *report.Report, podName string, log []byte, start time.Time) error {
	xml, err := coverage.ReadReport(log)
	if err != nil {
		return fmt.Errorf("combining coverage in pod %s: %w", podName, err)
	}
	if p.cfg.History != "" {
		fp, err := coverage.ReadFootprints(log, layout.WorkDir)
		if err != nil {
			p.log.Warn("no footprints for the history", "error", err)
		}
		p.footprints = testFootprints(p.cfg, fp, rep)
	}
	projectDir, err := filepath.Abs(p.cfg.ProjectDir)
	if err != nil {
		return err
	}
	xml = coverage.Localize(xml, layout.WorkDir, projectDir)
	sum, err := coverage.ParseReport(bytes.NewReader(xml))
	if err != nil {
		return fmt.Errorf("combining coverage in pod %s: %w", podName, err)
	}
	reportPath, err := filepath.Abs(coveragePath(p.cfg.JUnitPath))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(reportPath), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", reportPath, err)
	}
	if err := os.WriteFile(reportPath, xml, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", reportPath, err)
	}
	sum.Report = reportPath
	rep.Coverage = &sum
	p.log.Info("wrote coverage report", "path", sum.Report, "total", sum.Total(), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// maxReason bounds the words of a pod quoted in an error.
const maxReason = 300

// lastLogLine is the last line of a pod's log, as one defused line of at
// most maxReason bytes, or else fallback.
func lastLogLine(log []byte, fallback string) string {
	s := strings.TrimSpace(string(log))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		s = fallback
	}
	if len(s) > maxReason {
		s = strings.ToValidUTF8(s[:maxReason], "") + "..."
	}
	return logtext.Line(s)
}

// printCoverage is the terminal summary's coverage line.
func printCoverage(w io.Writer, rep *report.Report) {
	if rep == nil || rep.Coverage == nil {
		return
	}
	c := rep.Coverage
	fmt.Fprintf(w, "Coverage: %s of %d lines, all pods combined (%s)\n", c.Total(), c.Lines, c.Report)
	for _, f := range c.Least(3) {
		if f.Covered < f.Lines {
			fmt.Fprintf(w, "  %s %s (%d of %d lines)\n", coverage.Summary{Lines: f.Lines, Covered: f.Covered}.Total(), f.Name, f.Covered, f.Lines)
		}
	}
}
