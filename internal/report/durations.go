package report

import "time"

// Durations are the tests' own durations in this run, from each case's last
// attempt that ran to an end: what a later run's ordering and shards go by.
func Durations(results []CaseResult) map[string]time.Duration {
	out := make(map[string]time.Duration, len(results))
	for _, cr := range results {
		if len(cr.Attempts) == 0 {
			continue
		}
		at := cr.Last()
		if at.Started.IsZero() || at.Finished.Before(at.Started) {
			continue
		}
		out[cr.Case.TestID] = at.Finished.Sub(at.Started)
	}
	return out
}
