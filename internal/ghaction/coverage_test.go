package ghaction

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
)

func TestReadCoverage(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
	}{{"true", true}, {"True", true}, {"false", false}, {"", false}} {
		c, _, err := Read(runnerEnv(workspace(t), map[string]string{InputRepository: "r.example/x", InputCoverage: tt.value}))
		require.NoError(t, err, tt.value)
		assert.Equal(t, tt.want, c.Coverage, tt.value)
	}

	_, _, err := Read(runnerEnv(workspace(t), map[string]string{InputRepository: "r.example/x", InputCoverage: "yes"}))
	var ce *config.Error
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, `coverage "yes": give true or false`, err.Error())

	c, _, err := Read(runnerEnv(workspace(t), map[string]string{InputRepository: "r.example/x", InputCoverage: "true", InputMode: "operator"}))
	require.NoError(t, err, "operator mode combines the coverage the operator kept")
	assert.True(t, c.Coverage)
}

func sampleCoverage() *coverage.Summary {
	return &coverage.Summary{Lines: 40, Covered: 35, Files: []coverage.File{
		{Name: "pkg/a.py", Lines: 10, Covered: 10}, {Name: "pkg/b.py", Lines: 10, Covered: 5},
		{Name: "c|d.py", Lines: 4, Covered: 4}, {Name: "e.py", Lines: 4, Covered: 4},
		{Name: "f.py", Lines: 4, Covered: 4}, {Name: "g.py", Lines: 8, Covered: 8},
	}}
}

func TestCoverageOutputs(t *testing.T) {
	rep := sampleReport()
	rep.Coverage = sampleCoverage()
	got := map[string]string{}
	for _, o := range StepOutputs(rep, "out/junit.xml", "", "") {
		got[o.Name] = o.Value
	}
	assert.Equal(t, "87.5", got["coverage"])
	assert.Equal(t, "out/coverage.xml", got["coverage_xml"], "beside the JUnit report")
}

func TestCoverageInTheJobSummary(t *testing.T) {
	s := Summary{Counts: sampleReport().Counts(), Coverage: sampleCoverage()}
	md := s.Markdown(MaxJobSummary)
	assert.Contains(t, md, "**Coverage:** 87.5% of 40 lines, all pods combined")
	assert.Contains(t, md, "| Least covered | Lines | Covered |")
	assert.Contains(t, md, "| `pkg/b.py` | 10 | 50.0% |\n| `c\\|d.py` | 4 | 100.0% |")
	assert.Equal(t, 1+5, strings.Count(md[strings.Index(md, "| Least covered"):], "\n|"), "the separator row and five files at most")
	assert.NotContains(t, md, "pkg/a.py", "past five, ties go by name")

	assert.NotContains(t, Summary{Counts: sampleReport().Counts()}.Markdown(MaxJobSummary), "Coverage")
}
