package bench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// suiteRuns keeps the verdicts of the real suite's runs in a session, so
// that the fidelity check compares runs the benchmarks already made.
type suiteRuns struct {
	// plain is pytest's own JUnit file of each plain pytest run.
	plain []junit.Testsuites
	// perTest is runner.Run's results, one pod per test.
	perTest []report.CaseResult
	// bare is the exit code of each test run alone in a bare pod.
	bare map[string]int32
	// cli is the CLI's JUnit report by mode.
	cli map[string]junit.Testsuites
}

// fidelity compares, test by test, k8s-testrun's verdicts on the real
// suite with plain pytest's, run whole in one pod of the same image: one
// pod per test (runner.Run as the CLI calls it), and the CLI with --pod-per
// file and with --shards. It uses the runs B1R and B6 made in the same
// session and makes those that are missing.
func fidelity(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "F1", Name: "fidelity, real suite (verdicts differing from plain pytest)", Target: "0", Pass: true}
	rs, err := s.RealSuite(ctx, o.RealSelect)
	if err != nil {
		return f, err
	}
	if len(s.runs.plain) == 0 {
		s.Log.Info("F1: plain pytest")
		run, err := s.plainPytest(ctx, rs)
		if err != nil {
			return f, fmt.Errorf("plain pytest: %w", err)
		}
		s.runs.plain = append(s.runs.plain, run.suites)
	}
	if s.runs.perTest == nil {
		p := slices.Max(o.RealP)
		ids := SampleIDs(rs.IDs, o.RealN)
		s.Log.Info("F1: one pod per test", "tests", len(ids), "parallelism", p)
		_, _, results, err := s.runnerArm(ctx, rs.Image, Cases(ids), p)
		if err != nil {
			return f, fmt.Errorf("one pod per test: %w", err)
		}
		if _, err := checkRealResults(results); err != nil {
			return f, fmt.Errorf("one pod per test: %w", err)
		}
		s.runs.perTest = results
	}
	shards := fmt.Sprintf("shards %d", o.B6Shards)
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"pod-per file", []string{"--pod-per", "file"}},
		{shards, []string{"--shards", fmt.Sprint(o.B6Shards)}},
	} {
		if _, ok := s.runs.cli[mode.name]; ok {
			continue
		}
		s.Log.Info("F1: k8s-testrun run " + strings.Join(mode.args, " "))
		run, err := s.cliRun(ctx, rs, "f1-"+strings.ReplaceAll(mode.name, " ", "-"), o.B6P, mode.args...)
		if err != nil {
			return f, fmt.Errorf("k8s-testrun run %s: %w", strings.Join(mode.args, " "), err)
		}
		if s.runs.cli == nil {
			s.runs.cli = map[string]junit.Testsuites{}
		}
		s.runs.cli[mode.name] = run.suites
	}

	plain := s.runs.plain[len(s.runs.plain)-1]
	ref, refNotes, err := plainVerdicts(plain, rs.IDs)
	if err != nil {
		return f, err
	}
	f.Notes = append(f.Notes, refNotes...)
	f.Notes = append(f.Notes, "plain pytest: "+verdictCounts(ref))
	for i, other := range s.runs.plain[:len(s.runs.plain)-1] {
		got, _, err := plainVerdicts(other, rs.IDs)
		if err != nil {
			return f, err
		}
		if d := diffVerdicts(rs.IDs, ref, got); len(d) > 0 {
			f.Notes = append(f.Notes, fmt.Sprintf("plain pytest run %d differs from the last run on %d tests (not stable in one process):", i+1, len(d)))
			f.Notes = append(f.Notes, limitLines(d, 20)...)
		}
	}

	perTest := report.NewReport("fidelity", rs.Image, "", time.Time{}, 0, s.runs.perTest).JUnit()
	sources := []struct {
		name   string
		suites junit.Testsuites
	}{
		{"one pod per test", perTest},
		{"pod-per file", s.runs.cli["pod-per file"]},
		{shards, s.runs.cli[shards]},
	}
	perTestIDs := make([]string, len(s.runs.perTest))
	for i, r := range s.runs.perTest {
		perTestIDs[i] = r.Case.TestID
	}
	var figures []string
	for i, src := range sources {
		ids := rs.IDs
		if i == 0 {
			ids = perTestIDs // B1R's sample (-real-n)
		}
		got := map[string]junit.Testcase{}
		for _, id := range ids {
			if tc, ok := junit.Find(src.suites, id); ok {
				got[id] = tc
			}
		}
		d := diffVerdicts(ids, ref, got)
		if len(d) > 0 {
			f.Pass = false
		}
		f.Notes = append(f.Notes, fmt.Sprintf("%s, %d tests: %s; %d differ from plain pytest", src.name, len(ids), verdictCounts(got), len(d)))
		f.Notes = append(f.Notes, limitLines(d, 30)...)
		figures = append(figures, fmt.Sprintf("%s %d/%d", src.name, len(d), len(ids)))
	}
	if s.runs.bare != nil {
		var alone []string
		for _, id := range perTestIDs {
			want := int32(0)
			if st := ref[id].Status(); st == junit.StatusFailed || st == junit.StatusError {
				want = 1
			}
			if code, ok := s.runs.bare[id]; ok && code != want {
				alone = append(alone, fmt.Sprintf("  %s: plain pytest %s, alone in a bare pod exit %d", id, ref[id].Status(), code))
			}
		}
		f.Notes = append(f.Notes, fmt.Sprintf("each test alone in a bare pod (B1R) against the whole suite in one process: %d differ (an order dependence of the suite itself)", len(alone)))
		f.Notes = append(f.Notes, limitLines(alone, 20)...)
	}
	f.Value = strings.Join(figures, ", ")
	return f, nil
}

// findTests finds each test id in a report, and lists the ids it lacks.
func findTests(ts junit.Testsuites, ids []string) (map[string]junit.Testcase, []string) {
	out := make(map[string]junit.Testcase, len(ids))
	var missing []string
	for _, id := range ids {
		tc, ok := junit.Find(ts, id)
		if !ok {
			missing = append(missing, id)
			continue
		}
		out[id] = tc
	}
	return out, missing
}

// plainVerdicts finds each discovered test id in pytest's own JUnit file,
// and checks that the file holds no test the discovery did not list: the
// ids k8s-testrun runs are exactly the tests plain pytest runs.
func plainVerdicts(ts junit.Testsuites, ids []string) (map[string]junit.Testcase, []string, error) {
	out, missing := findTests(ts, ids)
	seen := map[[2]string]bool{}
	for _, s := range ts.Suites {
		for _, tc := range s.Testcases {
			seen[[2]string{tc.Classname, tc.Name}] = true
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("%d discovered tests are not in plain pytest's JUnit file, e.g. %s", len(missing), missing[0])
	}
	if len(seen) != len(ids) {
		return nil, nil, fmt.Errorf("plain pytest ran %d tests, k8s-testrun discovered %d", len(seen), len(ids))
	}
	return out, []string{fmt.Sprintf("discovery: the %d test ids k8s-testrun discovers are the %d tests plain pytest runs", len(ids), len(seen))}, nil
}

// diffVerdicts lists the tests whose verdict in got differs from want,
// with both sides' messages.
func diffVerdicts(ids []string, want, got map[string]junit.Testcase) []string {
	var out []string
	for _, id := range ids {
		w := want[id]
		g, ok := got[id]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("  %s: plain pytest %s, here not in the report", id, w.Status()))
		case g.Status() != w.Status():
			out = append(out, fmt.Sprintf("  %s: plain pytest %s%s, here %s%s", id, w.Status(), detail(w), g.Status(), detail(g)))
		}
	}
	return out
}

func detail(tc junit.Testcase) string {
	d := tc.Detail()
	if d == nil {
		return ""
	}
	msg := strings.Join(strings.Fields(d.Message), " ")
	if len(msg) > 120 {
		msg = msg[:120] + "..."
	}
	return fmt.Sprintf(" (%s)", strings.TrimSpace(d.Type+" "+msg))
}

func verdictCounts(tcs map[string]junit.Testcase) string {
	counts := map[junit.Status]int{}
	for _, tc := range tcs {
		counts[tc.Status()]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[junit.Status(k)])
	}
	return strings.Join(parts, ", ")
}
