package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// B6AutoTarget bounds --pod-per auto's wall time over the best of the
// other modes, measured side by side.
const B6AutoTarget = 1.05

// b6auto times, on the real suite, the CLI with --pod-per auto against
// --pod-per file, --pod-per class and --shards N, in rounds whose order
// rotates, at the same parallelism. Every run reads and writes one
// durations file, so that auto (last in the first round) plans from the
// history the other modes left, as a repeat run in CI would, and the shards
// balance by it. Each run's verdicts are checked against plain pytest's.
func b6auto(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B6A", Name: "pod-per auto, real suite (auto wall / best of file, class, shards)",
		Target: fmt.Sprintf("≤ %.2f, verdicts as plain pytest", B6AutoTarget), Pass: true}
	rs, err := s.RealSuite(ctx, o.RealSelect)
	if err != nil {
		return f, err
	}
	if len(s.runs.plain) == 0 {
		s.Log.Info("B6A: plain pytest")
		run, err := s.plainPytest(ctx, rs)
		if err != nil {
			return f, fmt.Errorf("plain pytest: %w", err)
		}
		s.runs.plain = append(s.runs.plain, run.suites)
	}
	ref, _, err := plainVerdicts(s.runs.plain[len(s.runs.plain)-1], rs.IDs)
	if err != nil {
		return f, err
	}
	return autoAgainstModes(ctx, s, o, f, rs, ref, "b6a")
}

// autoAgainstModes runs rs with the four modes in rotating rounds, checks
// every run's verdicts against ref (plain pytest's) and sets the figure to
// auto's wall over the best other mode's. tag names the runs' directories
// and their shared durations file.
func autoAgainstModes(ctx context.Context, s *Session, o Options, f Figure, rs *RealSuite, ref map[string]junit.Testcase, tag string) (Figure, error) {
	durations := filepath.Join(s.Dir, tag+"-durations.json")
	shards := strconv.Itoa(o.B6Shards)
	arms := []struct {
		name string
		args []string
	}{
		{"pod-per file", []string{"--pod-per", "file"}},
		{"pod-per class", []string{"--pod-per", "class"}},
		{"shards " + shards, []string{"--shards", shards}},
		{"pod-per auto", []string{"--pod-per", "auto"}},
	}
	walls := make([]time.Duration, len(arms))
	for r := 0; r < o.B6Rounds; r++ {
		for k := range arms {
			arm := (r + k) % len(arms)
			if err := settle(ctx, o.Settle); err != nil {
				return f, err
			}
			s.Log.Info("B6A run", "arm", arms[arm].name, "tests", len(rs.IDs), "round", r+1)
			args := append([]string{"--durations-file", durations}, arms[arm].args...)
			run, err := s.cliRun(ctx, rs, fmt.Sprintf("%s-%s-%d", tag, strings.ReplaceAll(arms[arm].name, " ", "-"), r+1), o.B6P, args...)
			if err != nil {
				return f, fmt.Errorf("k8s-testrun run %s: %w", strings.Join(args, " "), err)
			}
			walls[arm] += run.wall
			got := map[string]junit.Testcase{}
			for _, id := range rs.IDs {
				if tc, ok := junit.Find(run.suites, id); ok {
					got[id] = tc
				}
			}
			d := diffVerdicts(rs.IDs, ref, got)
			if len(d) > 0 {
				f.Pass = false
			}
			f.Notes = append(f.Notes, fmt.Sprintf("round %d %-13s %6.1fs  exit %d, %d test pods, %d of %d verdicts differ from plain pytest; %s",
				r+1, arms[arm].name, run.wall.Seconds(), run.exitCode, run.pods, len(d), len(rs.IDs), run.phases))
			f.Notes = append(f.Notes, limitLines(d, 10)...)
			if arm == len(arms)-1 {
				if line := autoLine(filepath.Join(s.Dir, "cli", fmt.Sprintf("%s-pod-per-auto-%d", tag, r+1), "stdout")); line != "" {
					f.Notes = append(f.Notes, "  "+line)
				}
			}
		}
	}
	best := 0
	for i := range len(arms) - 1 {
		if walls[i] < walls[best] {
			best = i
		}
	}
	auto := walls[len(arms)-1]
	ratio := auto.Seconds() / walls[best].Seconds()
	if ratio > B6AutoTarget {
		f.Pass = false
	}
	var sums []string
	for i, a := range arms {
		sums = append(sums, fmt.Sprintf("%s %.1fs", a.name, walls[i].Seconds()))
	}
	f.Value = fmt.Sprintf("%.2f (auto %.1fs / %s %.1fs)", ratio, auto.Seconds(), arms[best].name, walls[best].Seconds())
	f.Notes = append(f.Notes, fmt.Sprintf("%s walls over %d rounds (N=%d, P=%d): %s; auto / best %.2f",
		f.ID, o.B6Rounds, len(rs.IDs), o.B6P, strings.Join(sums, ", "), ratio))
	return f, nil
}

// autoLine is the line a run's summary gives to what --pod-per auto chose;
// "" when the file holds none.
func autoLine(stdout string) string {
	b, err := os.ReadFile(stdout)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "pod per auto:") {
			return l
		}
	}
	return ""
}
