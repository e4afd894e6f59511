package apicov

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ReportFile is the file name of the full map, beside the JUnit report.
const ReportFile = "api-coverage.json"

// Report is a run's API coverage: what api-coverage.json holds.
type Report struct {
	Source string    `json:"source"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Universe is the number of endpoints the cluster's OpenAPI lists;
	// Hit how many of them any test of the run hit.
	Universe int       `json:"universe"`
	Hit      int       `json:"hit"`
	Read     ReadStats `json:"read"`
	Counted  int64     `json:"counted"`
	// OutsideWindow, OtherPods, Denied and Unmatched are the events left
	// out; see Collector.
	OutsideWindow     int64                 `json:"outsideWindow"`
	OtherPods         int64                 `json:"otherPods"`
	Denied            int64                 `json:"denied"`
	Unmatched         int64                 `json:"unmatched"`
	UnmatchedExamples []string              `json:"unmatchedExamples,omitempty"`
	GroupVersions     []GroupVersionSummary `json:"groupVersions"`
	Tests             []TestCoverage        `json:"tests"`
	// Endpoints is the whole universe, each with its hits and the tests
	// that hit it.
	Endpoints []EndpointCoverage `json:"endpoints"`
}

// GroupVersionSummary is the coverage of one OpenAPI document.
type GroupVersionSummary struct {
	Name      string `json:"name"`
	Endpoints int    `json:"endpoints"`
	Hit       int    `json:"hit"`
}

// TestCoverage is what one test hit. A test that ran in a grouped pod
// (a file, class or shard in one pod) gets the whole unit's endpoints,
// shared by every test of it: Grouped says so and Units names them.
type TestCoverage struct {
	Test      string           `json:"test"`
	Grouped   bool             `json:"grouped,omitempty"`
	Units     []string         `json:"units,omitempty"`
	Pods      []string         `json:"pods"`
	Endpoints map[string]int64 `json:"endpoints"`
}

// EndpointCoverage is one endpoint with the requests that hit it.
type EndpointCoverage struct {
	Endpoint
	Key    string   `json:"key"`
	Stable bool     `json:"stable"`
	Hits   int64    `json:"hits"`
	Tests  []string `json:"tests,omitempty"`
}

// Report gathers what the collector counted.
func (c *Collector) Report(source string, st ReadStats) *Report {
	r := &Report{
		Source: source, From: c.from, To: c.to, Universe: c.u.Size(), Read: st, Counted: c.Counted,
		OutsideWindow: c.OutsideWindow, OtherPods: c.OtherPods, Denied: c.Denied,
		Unmatched: c.Unmatched, UnmatchedExamples: c.UnmatchedExamples,
	}
	r.Endpoints = make([]EndpointCoverage, len(c.u.Endpoints))
	for i, e := range c.u.Endpoints {
		r.Endpoints[i] = EndpointCoverage{Endpoint: e, Key: e.Key(), Stable: e.Stable()}
	}
	tests := map[string]*TestCoverage{}
	for _, h := range c.units {
		var pods []string
		inUnit := map[string]bool{}
		for _, p := range h.pods {
			pods = append(pods, p.Name)
			for _, t := range p.Tests {
				inUnit[t] = true
			}
		}
		grouped := len(inUnit) > 1
		for t := range inUnit {
			tc := tests[t]
			if tc == nil {
				tc = &TestCoverage{Test: t, Endpoints: map[string]int64{}}
				tests[t] = tc
			}
			tc.Pods = append(tc.Pods, pods...)
			if grouped {
				tc.Grouped = true
				tc.Units = append(tc.Units, h.pods[0].Unit)
			}
			for i, n := range h.hits {
				tc.Endpoints[c.u.Endpoints[i].Key()] += n
				r.Endpoints[i].Tests = append(r.Endpoints[i].Tests, t)
			}
		}
		for i, n := range h.hits {
			r.Endpoints[i].Hits += n
		}
	}
	r.Tests = []TestCoverage{}
	for _, tc := range tests {
		r.Tests = append(r.Tests, *tc)
	}
	slices.SortFunc(r.Tests, func(a, b TestCoverage) int { return strings.Compare(a.Test, b.Test) })
	gv := map[string]*GroupVersionSummary{}
	for i := range r.Endpoints {
		e := &r.Endpoints[i]
		slices.Sort(e.Tests)
		e.Tests = slices.Compact(e.Tests)
		g := gv[e.GroupVersion]
		if g == nil {
			g = &GroupVersionSummary{Name: e.GroupVersion}
			gv[e.GroupVersion] = g
		}
		g.Endpoints++
		if e.Hits > 0 {
			g.Hit++
			r.Hit++
		}
	}
	for _, g := range gv {
		r.GroupVersions = append(r.GroupVersions, *g)
	}
	slices.SortFunc(r.GroupVersions, func(a, b GroupVersionSummary) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// Percent is Hit of Universe, as "12.3%".
func (r *Report) Percent() string { return percent(r.Hit, r.Universe) }

func percent(n, of int) string {
	if of == 0 {
		return "0.0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// GroupVersionPercent is g's Hit of Endpoints.
func (g GroupVersionSummary) Percent() string { return percent(g.Hit, g.Endpoints) }

// MostHit are the n endpoints with the most requests, most first.
func (r *Report) MostHit(n int) []EndpointCoverage {
	var hit []EndpointCoverage
	for _, e := range r.Endpoints {
		if e.Hits > 0 {
			hit = append(hit, e)
		}
	}
	slices.SortStableFunc(hit, func(a, b EndpointCoverage) int { return cmp.Compare(b.Hits, a.Hits) })
	if len(hit) > n {
		hit = hit[:n]
	}
	return hit
}

// StableNotHit are the endpoints of GA versions that no test hit.
func (r *Report) StableNotHit() []EndpointCoverage {
	var out []EndpointCoverage
	for _, e := range r.Endpoints {
		if e.Stable && e.Hits == 0 {
			out = append(out, e)
		}
	}
	return out
}

// HitGroupVersions are the group versions with at least one hit.
func (r *Report) HitGroupVersions() []GroupVersionSummary {
	var out []GroupVersionSummary
	for _, g := range r.GroupVersions {
		if g.Hit > 0 {
			out = append(out, g)
		}
	}
	return out
}

// PropertyEndpoints is the JUnit testcase property with the number of
// endpoints the test hit.
const PropertyEndpoints = "k8s-testrun.api-endpoints"

// Of is the coverage of one test, or false; a nil report has none.
func (r *Report) Of(test string) (TestCoverage, bool) {
	if r == nil {
		return TestCoverage{}, false
	}
	i, ok := slices.BinarySearchFunc(r.Tests, test, func(t TestCoverage, s string) int { return strings.Compare(t.Test, s) })
	if !ok {
		return TestCoverage{}, false
	}
	return r.Tests[i], true
}

// Write writes the report as indented JSON to path.
func (r *Report) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding API coverage: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
