package report

import (
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// SkippedAtCollection turns pytest's JUnit testcases for what its
// collection skipped (a module that skipped itself at import) into case
// results, so the report, its counts and summaries carry them as plain
// pytest does: each a skipped case with pytest's own testcase, run in no
// pod. The case's test id is the module's path, pytest's node id for it;
// base is the index of the base image whose collection skipped them, in a
// runtime matrix (0 otherwise).
func SkippedAtCollection(tcs []junit.Testcase, base int) []CaseResult {
	out := make([]CaseResult, 0, len(tcs))
	for _, tc := range tcs {
		id := tc.File
		if id == "" {
			id = tc.Name
		}
		own := tc
		out = append(out, CaseResult{
			Case:   plan.Case{ID: testid.BaseCaseID(id, base), TestID: id, Base: base},
			Status: plan.Skipped,
			Final:  true,
			Attempts: []attempt.Attempt{{
				Outcome: plan.Outcome{Status: plan.Skipped},
				Results: attempt.Results{Testcase: &own, ExitCode: -1},
			}},
		})
	}
	return out
}
