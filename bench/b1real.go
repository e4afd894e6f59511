package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// B1RealTarget bounds runner wall time / bare pods' wall time on the real
// suite.
const B1RealTarget = 1.05

// b1r is B1 on the real suite: every test id of pyflakes's suite through
// runner.Run, one pod per test as the CLI runs them by default, and
// through bare pods running `python -m pytest <id>` in the same image,
// under the same cap, alternating which goes first.
func b1r(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B1R", Name: "orchestration overhead, real suite", Target: fmt.Sprintf("≤ %.2f", B1RealTarget), Pass: true}
	rs, err := s.RealSuite(ctx, o.RealSelect)
	if err != nil {
		return f, err
	}
	ids := SampleIDs(rs.IDs, o.RealN)
	cases := Cases(ids)
	f.Notes = append(f.Notes, fmt.Sprintf("%d of the suite's %d tests, spread evenly over it (-real-n)", len(ids), len(rs.IDs)))
	var figures, ratios []string
	for pi, p := range o.RealP {
		var walls [2]time.Duration // runner, bare pods
		for r := 0; r < o.RealRounds; r++ {
			arms := []int{1, 0}
			if (r+pi)%2 == 1 {
				arms = []int{0, 1}
			}
			for _, arm := range arms {
				if err := settle(ctx, o.Settle); err != nil {
					return f, err
				}
				name := [2]string{"runner", "bare pods"}[arm]
				s.Log.Info("B1R run", "arm", name, "cases", len(cases), "parallelism", p, "round", r+1)
				var wall time.Duration
				var bd Breakdown
				var verdicts string
				if arm == 0 {
					var results []report.CaseResult
					wall, bd, results, err = s.runnerArm(ctx, rs.Image, cases, p)
					if err == nil {
						verdicts, err = checkRealResults(results)
					}
					if err == nil {
						s.runs.perTest = results
					}
				} else {
					var exits map[string]int32
					wall, bd, exits, err = s.baselineArm(ctx, rs.Image, ids, p, true)
					if err == nil {
						verdicts, err = checkExitCodes(ids, exits)
					}
					if err == nil {
						s.runs.bare = exits
					}
				}
				if err != nil {
					return f, fmt.Errorf("%s at parallelism %d: %w", name, p, err)
				}
				walls[arm] += wall
				f.Notes = append(f.Notes, fmt.Sprintf("P=%d round %d %-9s %7.1fs  %s; %s", p, r+1, name, wall.Seconds(), verdicts, bd))
			}
		}
		ratio := walls[0].Seconds() / walls[1].Seconds()
		if ratio > B1RealTarget {
			f.Pass = false
		}
		figures = append(figures, fmt.Sprintf("P=%d %.2f", p, ratio))
		ratios = append(ratios, fmt.Sprintf("B1 real-suite P=%d runner %.1fs / bare pods %.1fs (N=%d) ratio %.2f",
			p, walls[0].Seconds(), walls[1].Seconds(), len(cases), ratio))
	}
	if s.runs.perTest != nil && s.runs.bare != nil {
		f.Notes = append(f.Notes, perTestAgreement(s.runs.perTest, s.runs.bare)...)
	}
	// The ratios come last, as the other benchmarks print their figures.
	f.Notes = append(f.Notes, ratios...)
	f.Value = strings.Join(figures, ", ")
	return f, nil
}

// SampleIDs picks n ids spread evenly over ids, in their order; all of
// them when n is 0 or not below their number.
func SampleIDs(ids []string, n int) []string {
	if n <= 0 || n >= len(ids) {
		return ids
	}
	out := make([]string, n)
	for i := range out {
		out[i] = ids[i*len(ids)/n]
	}
	return out
}

// checkRealResults makes sure a measured run of the real suite did what it
// was meant to: every case ran to a verdict of pytest's, its results read.
// A failing test is a verdict; an infrastructure error voids the run.
func checkRealResults(results []report.CaseResult) (string, error) {
	counts := map[plan.Status]int{}
	for _, r := range results {
		if len(r.Attempts) == 0 {
			return "", fmt.Errorf("case %s did not run: the measurement is void", r.Case.TestID)
		}
		a := r.Last()
		if report.IsInfra(a.Outcome) {
			return "", fmt.Errorf("case %s: %s: %s: the measurement is void", r.Case.TestID, a.Outcome.Reason, a.Outcome.Message)
		}
		if a.ResultErr != nil {
			return "", fmt.Errorf("case %s: results not read: %w", r.Case.TestID, a.ResultErr)
		}
		counts[r.Status]++
	}
	return countLine(counts), nil
}

// checkExitCodes makes sure every bare pod ran its test to pytest's
// verdict: exit code 0 (passed or skipped) or 1 (failed).
func checkExitCodes(ids []string, exits map[string]int32) (string, error) {
	n := map[int32]int{}
	for _, id := range ids {
		code, ok := exits[id]
		if !ok {
			return "", fmt.Errorf("bare pod of %s: no exit code seen", id)
		}
		if code != 0 && code != 1 {
			return "", fmt.Errorf("bare pod of %s: pytest exited %d, not 0 or 1: the measurement is void", id, code)
		}
		n[code]++
	}
	return fmt.Sprintf("exit 0: %d, exit 1: %d", n[0], n[1]), nil
}

func countLine(counts map[plan.Status]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[plan.Status(k)])
	}
	return strings.Join(parts, ", ")
}

// perTestAgreement compares the runner's verdict on each test with the
// exit code of the bare pod that ran the same test alone: both isolate the
// test in a pod of its own, so they must agree.
func perTestAgreement(results []report.CaseResult, exits map[string]int32) []string {
	var diffs []string
	for _, r := range results {
		want := int32(0)
		if r.Status == plan.Failed || r.Status == plan.Error {
			want = 1
		}
		if code, ok := exits[r.Case.TestID]; ok && code != want {
			diffs = append(diffs, fmt.Sprintf("  %s: runner %s, bare pod exit %d", r.Case.TestID, r.Status, code))
		}
	}
	out := []string{fmt.Sprintf("runner verdicts against bare pods' exit codes, test by test: %d differ", len(diffs))}
	return append(out, limitLines(diffs, 20)...)
}

// limitLines keeps the first n lines and says how many it left out.
func limitLines(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(lines[:n:n], fmt.Sprintf("  ... and %d more", len(lines)-n))
}
