package app

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

func TestPrintCoverage(t *testing.T) {
	rep := &report.Report{Coverage: &coverage.Summary{Lines: 12, Covered: 9, Report: "out/coverage.xml", Files: []coverage.File{
		{Name: "calc.py", Lines: 4, Covered: 4}, {Name: "io.py", Lines: 8, Covered: 5},
	}}}
	var b bytes.Buffer
	printCoverage(&b, rep)
	assert.Equal(t, "Coverage: 75.0% of 12 lines, all pods combined (out/coverage.xml)\n  62.5% io.py (5 of 8 lines)\n", b.String(),
		"the total, then the least covered files that missed lines")

	b.Reset()
	printCoverage(&b, &report.Report{})
	assert.Empty(t, b.String(), "nothing without --coverage")
}

func TestNoImageCoverage(t *testing.T) {
	err := noImageCoverage("python:3.12-slim")
	var ce *config.Error
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, "coverage", ce.Input)
	assert.Contains(t, err.Error(), "has no coverage.py: add coverage to your requirements, or use a base image with it (Debian's python3-coverage)")
	assert.NotContains(t, err.Error(), "\n")
	assert.True(t, isInputError(err))
	assert.True(t, strings.HasPrefix(err.Error(), "coverage: "))
}
