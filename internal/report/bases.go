package report

import (
	"fmt"
	"slices"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// Base is one base image of a runtime matrix and the test image built on
// it.
type Base struct {
	// Ref is the base image as the user gave it.
	Ref string
	// Image and Digest are the test image built on it, as the pods pull it.
	Image, Digest string
	// Python and Pytest are the versions discovery found in the image;
	// empty when unknown.
	Python, Pytest string
}

// Matrix reports a run over more than one base image.
func (r *Report) Matrix() bool { return len(r.Bases) > 1 }

// imageDigest is the digest of the test image c ran in.
func (r *Report) imageDigest(c plan.Case) string {
	if r.Matrix() && c.Base < len(r.Bases) {
		return r.Bases[c.Base].Digest
	}
	return r.ImageDigest
}

// BaseLabels names each base of a matrix for tables and headlines: its
// Python version ("Python 3.11"), or the base image when that is unknown
// or two bases share it. Nil outside a matrix.
func (r *Report) BaseLabels() []string {
	if !r.Matrix() {
		return nil
	}
	labels := make([]string, len(r.Bases))
	count := map[string]int{}
	for i, b := range r.Bases {
		if minor := (discover.Versions{Python: b.Python}).Minor(); minor != "" {
			labels[i] = "Python " + minor
		}
		count[labels[i]]++
	}
	for i, b := range r.Bases {
		if labels[i] == "" || count[labels[i]] > 1 {
			labels[i] = b.Ref
		}
	}
	return labels
}

// SuiteName names a base's testsuite: the base image and its versions.
func (b Base) SuiteName() string {
	switch {
	case b.Python != "" && b.Pytest != "":
		return fmt.Sprintf("%s (Python %s, pytest %s)", b.Ref, b.Python, b.Pytest)
	case b.Python != "":
		return fmt.Sprintf("%s (Python %s)", b.Ref, b.Python)
	}
	return b.Ref
}

// matrixJUnit is one testsuite per base, each with the base's cases in
// the report's order.
func (r *Report) matrixJUnit(tcs []junit.Testcase) junit.Testsuites {
	out := junit.Testsuites{Name: "k8s-testrun", Time: junit.Seconds(r.Wall)}
	for i, b := range r.Bases {
		suite := junit.Testsuite{
			Name:      b.SuiteName(),
			Time:      junit.Seconds(r.Wall),
			Timestamp: r.Started.UTC().Format(time.RFC3339),
			Properties: []junit.Property{
				{Name: "k8s-testrun.run", Value: r.RunID},
				{Name: "k8s-testrun.image", Value: b.Image},
				{Name: "k8s-testrun.base", Value: b.Ref},
			},
		}
		if b.Python != "" {
			suite.Properties = append(suite.Properties, junit.Property{Name: "k8s-testrun.python", Value: b.Python})
		}
		for j, cr := range r.Cases {
			if cr.Case.Base == i {
				suite.Testcases = append(suite.Testcases, tcs[j])
			}
		}
		out.Suites = append(out.Suites, suite)
	}
	return out
}

// BaseCounts are the counts of each base of a matrix, in the order of
// Bases; nil outside a matrix.
func (r *Report) BaseCounts() []Counts {
	if !r.Matrix() {
		return nil
	}
	out := make([]Counts, len(r.Bases))
	for i := range r.Bases {
		sub := Report{Cases: slices.DeleteFunc(slices.Clone(r.Cases), func(cr CaseResult) bool { return cr.Case.Base != i })}
		out[i] = sub.Counts()
	}
	return out
}
