package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/bench/mutate"
	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// M1 measures --affected-since on the real suite with the library's
// source in the project: footprints from one --coverage run, then
// single-function mutations of the library, each run in full and with
// --affected-since the footprints' commit. A test that fails in the full
// run and is not selected is a miss; the target is none.

const (
	// realSuiteLibrary is where the package keeps its source in the
	// root filesystem tar; the project holds a copy under pyflakes/, which
	// shadows the installed package (pytest runs as python -m from the
	// project's directory).
	realSuiteLibrary = "usr/lib/python3/dist-packages/pyflakes/"
	m1Library        = "pyflakes"
	// m1Coverage is the Debian package that gives the image coverage.py.
	m1Coverage = "python3-coverage"
)

// m1Run is what one mutation's pair of runs found.
type m1Run struct {
	mutation          mutate.Mutation
	failing           []string // failed or errored in the full run
	caused            int      // of them, tests that passed at the footprints' commit
	selected, total   int
	misses            []string // failing and not selected
	verdictDiffers    []string // selected, failing in the full run, not in the affected run
	full, affected    time.Duration
	fullExit, affExit int
}

func m1(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "M1", Name: "affected-since misses, real suite with its library (single-function mutations)",
		Target: "0 misses"}
	rs, tarPath, err := s.mutationSuite(ctx, o.RealSelect)
	if err != nil {
		return f, err
	}
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = rs.Dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "pyflakes and its tests"}} {
		if _, err := git(args...); err != nil {
			return f, err
		}
	}
	base, err := git("rev-parse", "HEAD")
	if err != nil {
		return f, err
	}
	hist := filepath.Join(s.Dir, "m1-history")
	s.Log.Info("M1 footprints", "commit", base)
	fp, err := s.cliRun(ctx, rs, "m1-footprints", o.B6P, "--coverage", "--history", hist)
	if err != nil {
		return f, fmt.Errorf("footprint run: %w", err)
	}
	rec, err := m1Record(hist, base)
	if err != nil {
		return f, err
	}
	withLib := 0
	for _, files := range rec.Footprints {
		for file := range files {
			if strings.HasPrefix(file, m1Library+"/") {
				withLib++
				break
			}
		}
	}
	f.Notes = append(f.Notes, fmt.Sprintf("footprint run (--coverage --history, one pod per test, P=%d): %.1fs, exit %d, %d tests, %d footprints, %d of them holding a file of %s/; commit %s",
		o.B6P, fp.wall.Seconds(), fp.exitCode, len(rec.Tests), len(rec.Footprints), withLib, m1Library, base[:12]))
	if withLib == 0 {
		return f, fmt.Errorf("no footprint holds a file of %s/: the tests did not run the project's copy of the library, so the measurement is void", m1Library)
	}
	passedAtBase := map[string]bool{}
	for id, t := range rec.Tests {
		passedAtBase[id] = t.Verdict == history.VerdictPassed
	}

	sources, err := m1Sources(rs.Dir)
	if err != nil {
		return f, err
	}
	muts, err := mutate.Generate(sources, o.M1N, o.M1Seed)
	if err != nil {
		return f, err
	}
	f.Notes = append(f.Notes, fmt.Sprintf("%d mutations of %d source files, seed %d (tar %s); each mutation's full and affected runs with --pod-per %s", len(muts), len(sources), o.M1Seed, filepath.Base(tarPath), o.M1PodPer))

	var runs []m1Run
	start := time.Now()
	for k, m := range muts {
		if ctx.Err() != nil {
			return f, ctx.Err()
		}
		if o.M1Time > 0 && time.Since(start) > o.M1Time {
			f.Notes = append(f.Notes, fmt.Sprintf("stopped after %d of the %d mutations: -m1-time %s reached", k, len(muts), o.M1Time))
			break
		}
		if _, err := git("reset", "-q", "--hard", base); err != nil {
			return f, err
		}
		path := filepath.Join(rs.Dir, filepath.FromSlash(m.File))
		if err := os.WriteFile(path, m.Apply(sources[m.File]), 0o644); err != nil {
			return f, err
		}
		if _, err := git("commit", "-q", "-am", "mutation "+m.String()); err != nil {
			return f, err
		}
		r := m1Run{mutation: m}
		var full, aff cliResult
		// Alternate which run goes first, so that drift in the machine's
		// load falls on both alike.
		order := []bool{false, true}
		if k%2 == 1 {
			order = []bool{true, false}
		}
		for _, affected := range order {
			if err := settle(ctx, o.Settle); err != nil {
				return f, err
			}
			if affected {
				aff, err = s.cliRun(ctx, rs, fmt.Sprintf("m1-%d-affected", k+1), o.B6P, "--pod-per", o.M1PodPer, "--history", hist, "--affected-since", base)
			} else {
				full, err = s.cliRun(ctx, rs, fmt.Sprintf("m1-%d-full", k+1), o.B6P, "--pod-per", o.M1PodPer)
			}
			if err != nil {
				return f, fmt.Errorf("mutation %d (%s): %w", k+1, m, err)
			}
		}
		r.full, r.affected, r.fullExit, r.affExit = full.wall, aff.wall, full.exitCode, aff.exitCode
		fullV, err := m1Verdicts(full.suites)
		if err != nil {
			return f, fmt.Errorf("mutation %d full run: %w", k+1, err)
		}
		affV, err := m1Verdicts(aff.suites)
		if err != nil {
			return f, fmt.Errorf("mutation %d affected run: %w", k+1, err)
		}
		r.compare(fullV, affV, passedAtBase)
		runs = append(runs, r)
		s.Log.Info("M1 mutation", "n", k+1, "mutation", m.String(), "failing", len(r.failing), "selected", r.selected, "misses", len(r.misses))
	}
	return m1Figure(f, runs, o), nil
}

// compare sets, from the full and the affected run's verdicts, what the
// affected run selected and which failing tests it missed.
func (r *m1Run) compare(fullV, affV map[string]m1Verdict, passedAtBase map[string]bool) {
	r.total = len(fullV)
	for _, v := range affV {
		if !v.notAffected {
			r.selected++
		}
	}
	for id, v := range fullV {
		if !v.failing {
			continue
		}
		r.failing = append(r.failing, id)
		if passedAtBase[id] {
			r.caused++
		}
		a, ok := affV[id]
		switch {
		case !ok || a.notAffected:
			r.misses = append(r.misses, id)
		case !a.failing:
			r.verdictDiffers = append(r.verdictDiffers, id)
		}
	}
	sort.Strings(r.failing)
	sort.Strings(r.misses)
	sort.Strings(r.verdictDiffers)
}

// m1Figure sums the mutations' runs into the figure: a row per mutation,
// then the misses, the mean fraction selected and the wall-time ratio.
func m1Figure(f Figure, runs []m1Run, o Options) Figure {
	f.Notes = append(f.Notes,
		"| # | mutation | failing (by the mutation) | selected | misses | full | affected | ratio |",
		"|---|---|---|---|---|---|---|---|")
	var misses, differs, withFailures int
	var fracSum float64
	var fullSum, affSum time.Duration
	for k, r := range runs {
		misses += len(r.misses)
		differs += len(r.verdictDiffers)
		if r.caused > 0 {
			withFailures++
		}
		frac := float64(r.selected) / float64(max(r.total, 1))
		fracSum += frac
		fullSum += r.full
		affSum += r.affected
		f.Notes = append(f.Notes, fmt.Sprintf("| %d | `%s:%d %s` %s | %d (%d) | %d of %d (%.0f%%) | %d | %.1fs | %.1fs | %.2f |",
			k+1, r.mutation.File, r.mutation.Def+1, r.mutation.Name, r.mutation.Kind, len(r.failing), r.caused,
			r.selected, r.total, 100*frac, len(r.misses), r.full.Seconds(), r.affected.Seconds(), r.affected.Seconds()/r.full.Seconds()))
	}
	for k, r := range runs {
		for _, id := range r.misses {
			f.Notes = append(f.Notes, fmt.Sprintf("MISS mutation %d (%s): %s failed in the full run and was not selected", k+1, r.mutation, id))
		}
		for _, id := range r.verdictDiffers {
			f.Notes = append(f.Notes, fmt.Sprintf("mutation %d (%s): %s failed in the full run, was selected and did not fail", k+1, r.mutation, id))
		}
	}
	n := max(len(runs), 1)
	ratio := affSum.Seconds() / max(fullSum.Seconds(), 1e-9)
	f.Notes = append(f.Notes, fmt.Sprintf("M1 %d mutations (%d with tests they made fail), %d misses; mean selected %.1f%% of the suite; affected %.1fs / full %.1fs ratio %.2f (P=%d, --pod-per %s)",
		len(runs), withFailures, misses, 100*fracSum/float64(n), affSum.Seconds(), fullSum.Seconds(), ratio, o.B6P, o.M1PodPer))
	f.Pass = misses == 0 && differs == 0
	f.Value = fmt.Sprintf("%d misses in %d mutations (%d with failures), mean selected %.1f%%, wall affected/full %.2f",
		misses, len(runs), withFailures, 100*fracSum/float64(n), ratio)
	return f
}

type m1Verdict struct {
	failing, notAffected bool
}

// m1Verdicts reads a k8s-testrun report by test id.
func m1Verdicts(ts junit.Testsuites) (map[string]m1Verdict, error) {
	out := map[string]m1Verdict{}
	for _, su := range ts.Suites {
		for _, tc := range su.Testcases {
			id, ok := tc.Property(junit.PropertyTestID)
			if !ok {
				return nil, fmt.Errorf("testcase %s %s has no %s property", tc.Classname, tc.Name, junit.PropertyTestID)
			}
			_, na := tc.Property(junit.PropertyNotAffected)
			st := tc.Status()
			out[id] = m1Verdict{failing: st == junit.StatusFailed || st == junit.StatusError, notAffected: na}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the report has no tests")
	}
	return out, nil
}

// m1Record reads the footprint run's record from the history.
func m1Record(dir, commit string) (history.Record, error) {
	store := history.Store{Dir: dir}
	e, ok, err := store.Resolve(commit, "")
	if err != nil || !ok {
		return history.Record{}, fmt.Errorf("the footprint run's record of %s is not in %s (%v)", commit, dir, err)
	}
	rec, ok, err := store.Read(e)
	if err != nil || !ok {
		return history.Record{}, fmt.Errorf("reading the record of %s: %v", commit, err)
	}
	return rec, nil
}

// m1Sources reads the library's own modules (not its tests) from the
// project, by slash path relative to it.
func m1Sources(dir string) (map[string][]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, m1Library, "*.py"))
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out[m1Library+"/"+filepath.Base(p)] = b
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s/*.py in %s", m1Library, dir)
	}
	return out, nil
}

// mutationSuite makes the real suite's project with the library beside
// its tests: the package's tests under tests/ as for the other real-suite
// benchmarks, and its source under pyflakes/ (pyflakes/test/ as the package
// ships it, which the tests import; only tests/ is collected). The base image adds coverage.py to
// the real suite's, from the Debian package, for --coverage.
func (s *Session) mutationSuite(ctx context.Context, selection []string) (*RealSuite, string, error) {
	codename, err := rootfs.OSCodename()
	if err != nil {
		return nil, "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, "", fmt.Errorf("finding the cache dir: %w", err)
	}
	recipe := rootfs.Recipe{
		Name:     "python-pyflakes",
		Codename: codename,
		Packages: append(append([]string(nil), rootfs.PythonPackages...), RealSuitePackage, m1Coverage),
	}
	tarPath, err := rootfs.Build(ctx, filepath.Join(cache, "k8s-testrun"), recipe, s.Log.With("component", "rootfs"))
	if err != nil {
		return nil, "", fmt.Errorf("mutation suite's root filesystem: %w", err)
	}
	img, err := rootfs.PythonImage(tarPath)
	if err != nil {
		return nil, "", err
	}
	ref := fmt.Sprintf("%s/ktr-bench/python-pyflakes-coverage:3-%s", s.Registry, codename)
	digest, err := rootfs.Push(ctx, ref, img)
	if err != nil {
		return nil, "", err
	}
	rs := &RealSuite{Base: ref + "@" + digest.String(), Dir: filepath.Join(s.Dir, "mutsuite"), Selection: selection}
	if _, err := extractTests(tarPath, realSuiteTests, filepath.Join(rs.Dir, realSuiteDir)); err != nil {
		return nil, "", err
	}
	lib := filepath.Join(rs.Dir, m1Library)
	for _, sub := range []string{"", "scripts/", "test/"} {
		if _, err := extractTests(tarPath, realSuiteLibrary+sub, filepath.Join(lib, filepath.FromSlash(sub))); err != nil {
			return nil, "", err
		}
	}
	if len(rs.Selection) == 0 {
		// The library's copy of its test modules stays, for the tests
		// that import them (test_doctests imports test_other), and is not
		// collected a second time.
		rs.Selection = []string{realSuiteDir}
	}
	s.Log.Info("mutation suite", "package", RealSuitePackage, "base", rs.Base, "dir", rs.Dir)
	return rs, tarPath, nil
}
