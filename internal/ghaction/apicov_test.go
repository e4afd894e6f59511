package ghaction

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

func TestReadAPICoverage(t *testing.T) {
	ws := workspace(t)
	tmpl := "spec:\n  serviceAccountName: tests\n"
	for in, want := range map[string]string{
		"local":           "local",
		"kind:ci":         "kind:ci",
		"audit/audit.log": filepath.Join(ws, "audit/audit.log"),
	} {
		c, _, err := Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x", InputAPICoverage: in, InputPodTemplate: tmpl}))
		require.NoError(t, err, in)
		assert.Equal(t, want, c.APICoverage, in)
	}
	c, _, err := Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x"}))
	require.NoError(t, err)
	assert.Empty(t, c.APICoverage, "off by default")
}

func TestReadAPICoverageWithoutServiceAccount(t *testing.T) {
	_, _, err := Read(runnerEnv(workspace(t), map[string]string{InputRepository: "r.example/x", InputAPICoverage: "local"}))
	require.Error(t, err)
	var ce *config.Error
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, InputAPICoverage, ce.Input, "named as action.yml names it")
	assert.Contains(t, err.Error(), "serviceAccountName")
}

// apiReport is an API coverage report whose every value from the cluster
// is word, or word with the injection after it when hostile.
func apiReport(hostile bool, stable int) *apicov.Report {
	v := func(word string) string {
		if hostile {
			return word + injection
		}
		return word
	}
	r := &apicov.Report{Source: v("/var/log/audit.log"), Universe: 2 + stable, Hit: 2,
		GroupVersions: []apicov.GroupVersionSummary{{Name: v("example.com/v1"), Endpoints: 2 + stable, Hit: 2}},
		Tests:         []apicov.TestCoverage{{Test: "t::a", Grouped: true, Units: []string{"t.py"}}}}
	for i := range 2 + stable {
		e := apicov.Endpoint{Method: "GET", Path: v(fmt.Sprintf("/apis/example.com/v1/widgets%d", i)), GroupVersion: "example.com/v1"}
		ec := apicov.EndpointCoverage{Endpoint: e, Key: e.Key(), Stable: true}
		if i < 2 {
			ec.Hits, ec.Tests = int64(3-i), []string{"t::a"}
		}
		r.Endpoints = append(r.Endpoints, ec)
	}
	return r
}

func TestAPICoverageSection(t *testing.T) {
	s := Summary{Counts: report.Counts{Total: 1, Passed: 1}, APICoverage: apiReport(false, 60)}
	md := s.Markdown(MaxJobSummary)
	assert.Contains(t, md, "#### API coverage\n\n**2 of 62 endpoints (3.2%)**")
	assert.Contains(t, md, "| `example.com/v1` | 2 | 62 | 3.2% |")
	assert.Contains(t, md, "| `GET /apis/example.com/v1/widgets0` | 3 | 1 |\n| `GET /apis/example.com/v1/widgets1` | 2 | 1 |")
	assert.Contains(t, md, "<details><summary>Stable endpoints no test hit (60)</summary>")
	assert.Contains(t, md, "- `GET /apis/example.com/v1/widgets51`\n- and 10 more, in `api-coverage.json`")
	assert.NotContains(t, md, "widgets52`")
	assert.Contains(t, md, "grouped pod")

	// Out of room, the list goes whole: no details element is left open.
	md = s.Markdown(1400)
	assert.Equal(t, strings.Count(md, "<details>"), strings.Count(md, "</details>"))
	assert.Contains(t, md, "API coverage's list of unhit stable endpoints")
}

// Whatever the cluster's OpenAPI and the audit log say, the section has
// the markup the code writes, no more.
func TestAPICoverageSectionMarkup(t *testing.T) {
	plain := Summary{APICoverage: apiReport(false, 3)}.Markdown(MaxJobSummary)
	hostile := Summary{APICoverage: apiReport(true, 3)}.Markdown(MaxJobSummary)
	require.Contains(t, hostile, "Injected")
	want, _ := markup(t, plain)
	got, targets := markup(t, hostile)
	assert.Equal(t, want, got, "markdown:\n%s", hostile)
	assert.Empty(t, targets)
}
