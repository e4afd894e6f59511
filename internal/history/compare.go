package history

import (
	"sort"
	"time"
)

// ReadyRuns is how many of a quarantined test's last recorded runs must
// have passed for it to be listed as ready to release.
const ReadyRuns = 5

// Thresholds of a slower test: at least SlowerFactor times its base's
// duration, and at least SlowerBy more.
const (
	SlowerFactor = 2
	SlowerBy     = time.Second
)

// Comparison is a run against its base: the record of another commit.
// Every list is sorted by test id.
type Comparison struct {
	// Base is the base's commit, and Branch its branch when recorded.
	Base   string `json:"base"`
	Branch string `json:"base_branch,omitempty"`
	// NewFailures failed (or errored) here and passed on the base.
	NewFailures []string `json:"new_failures"`
	// Fixed passed here and failed on the base.
	Fixed []string `json:"fixed"`
	// StillFailing failed both here and on the base.
	StillFailing []string `json:"still_failing"`
	// NewFlaky are flaky here and were not on the base.
	NewFlaky []string `json:"new_flaky"`
	// NewTests are here and not on the base; RemovedTests the reverse.
	NewTests     []string `json:"new_tests"`
	RemovedTests []string `json:"removed_tests"`
	// FailingNewTests are the new tests that failed: failures the base
	// cannot have had, which fail_on new-failures counts too.
	FailingNewTests []string `json:"failing_new_tests"`
	// Slower are the tests at least SlowerFactor times and SlowerBy
	// slower than on the base, slowest growth first.
	Slower []Slower `json:"slower"`
}

// Slower is a test that took longer than on the base.
type Slower struct {
	Test        string  `json:"test"`
	BaseSeconds float64 `json:"base_seconds"`
	Seconds     float64 `json:"seconds"`
}

// Compare compares this run's tests with base's record.
func Compare(tests []Test, base Record) *Comparison {
	c := &Comparison{Base: base.Commit, Branch: base.Branch,
		NewFailures: []string{}, Fixed: []string{}, StillFailing: []string{}, NewFlaky: []string{},
		NewTests: []string{}, RemovedTests: []string{}, FailingNewTests: []string{}, Slower: []Slower{}}
	here := make(map[string]bool, len(tests))
	for _, t := range tests {
		here[t.ID] = true
		br, ok := base.Tests[t.ID]
		if !ok {
			c.NewTests = append(c.NewTests, t.ID)
			if t.Failed() {
				c.FailingNewTests = append(c.FailingNewTests, t.ID)
			}
			continue
		}
		b := br.Test(t.ID)
		switch {
		case t.Failed() && b.Passed():
			c.NewFailures = append(c.NewFailures, t.ID)
		case t.Failed() && b.Failed():
			c.StillFailing = append(c.StillFailing, t.ID)
		case t.Passed() && b.Failed():
			c.Fixed = append(c.Fixed, t.ID)
		}
		if t.Flaky && !b.Flaky {
			c.NewFlaky = append(c.NewFlaky, t.ID)
		}
		if t.Passed() && b.Passed() && b.Duration > 0 && t.Duration >= SlowerFactor*b.Duration && t.Duration-b.Duration >= SlowerBy {
			c.Slower = append(c.Slower, Slower{Test: t.ID, BaseSeconds: b.Duration.Seconds(), Seconds: t.Duration.Seconds()})
		}
	}
	for id := range base.Tests {
		if !here[id] {
			c.RemovedTests = append(c.RemovedTests, id)
		}
	}
	for _, l := range [][]string{c.NewFailures, c.Fixed, c.StillFailing, c.NewFlaky, c.NewTests, c.RemovedTests, c.FailingNewTests} {
		sort.Strings(l)
	}
	sort.SliceStable(c.Slower, func(i, j int) bool {
		gi, gj := c.Slower[i].Seconds-c.Slower[i].BaseSeconds, c.Slower[j].Seconds-c.Slower[j].BaseSeconds
		if gi != gj {
			return gi > gj
		}
		return c.Slower[i].Test < c.Slower[j].Test
	})
	return c
}

// IsNewFailure reports a test among the new failures.
func (c *Comparison) IsNewFailure(id string) bool {
	if c == nil {
		return false
	}
	i := sort.SearchStrings(c.NewFailures, id)
	return i < len(c.NewFailures) && c.NewFailures[i] == id
}
