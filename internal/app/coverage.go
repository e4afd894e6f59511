package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/runner"
)

// coverageTool finds, with --coverage, the coverage.py that combines the
// pods' data, before anything else is done: without it the run would end
// with no report after every test ran.
func (p *pipeline) coverageTool(ctx context.Context) (coverage.Tool, error) {
	if !p.cfg.Coverage {
		return coverage.Tool{}, nil
	}
	tool, err := coverage.FindHost(ctx, p.environ)
	if err != nil {
		return tool, &config.Error{Input: "coverage", Fix: err.Error()}
	}
	p.log.Debug("combining coverage with", "command", tool.Command, "version", tool.Version)
	return tool, nil
}

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

// combineCoverage merges the pods' data into coverage.xml and the report.
func (p *pipeline) combineCoverage(ctx context.Context, tool coverage.Tool, dir string, rep *runner.Report) error {
	if entries, err := os.ReadDir(dir); err == nil {
		var size int64
		for _, e := range entries {
			if info, err := e.Info(); err == nil {
				size += info.Size()
			}
		}
		p.log.Info("combining coverage data", "files", len(entries), "bytes", size)
	}
	sum, err := coverage.Combine(ctx, tool, dir, layout.WorkDir, p.cfg.ProjectDir, coveragePath(p.cfg.JUnitPath))
	if err != nil {
		return err
	}
	rep.Coverage = &sum
	p.log.Info("wrote coverage report", "path", sum.Report, "total", sum.Total())
	return nil
}

// printCoverage is the terminal summary's coverage line.
func printCoverage(w io.Writer, rep *runner.Report) {
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
