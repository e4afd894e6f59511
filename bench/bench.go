// Package bench measures how close one pod per test case comes to what the
// cluster itself allows. Each benchmark compares k8s-testrun with a baseline
// taken side by side in the same process, so that the figures are ratios
// that later work can move:
//
//	B1  orchestration overhead: runner wall time / bare pods' wall time
//	B2  API cost: apiserver requests per test case, from /metrics
//	B3  build: build and push time and bytes / crane append's
//	B4  sidecar cost: test exit to pod observed complete, with and without
//	B5  memory: peak RSS of the runner for 10,000 cases on a kwok node
//	B1R B1 on a real suite (pyflakes's tests, as Debian ships them)
//	B6  the CLI with --pod-per file and --shards / one plain pytest pod
//	B6A the CLI with --pod-per auto / the best of file, class and shards
//	B6AL B6A on a suite of a few long tests among hundreds of short ones
//	B7  operator mode's wall time / direct mode's, real suite
//	B8  dispatch at scale: runner's and operator's pods/s / a bare creator's
//	    on 100 kwok nodes, 10,000 tests at parallelism 500; peak RSS
//	F1  fidelity: k8s-testrun's verdicts on the real suite / plain pytest's
//
// The cluster is named by the same environment variables as the e2e tests.
// Every object a benchmark creates lives in a namespace of its own (and, for
// B5, a fake node), deleted on every path out.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// Env is what the process gives the command.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// OSEnv is the real process environment.
func OSEnv() Env { return Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv} }

// Exit codes: a missed target is not an error of the harness.
const (
	ExitOK     = 0
	ExitMissed = 1
	ExitError  = 2
)

// Figure is the result of one benchmark.
type Figure struct {
	ID, Name string
	// Value is the figure as printed in the table; Target the bound.
	Value, Target string
	Pass          bool
	// Notes are the details behind the figure, one line each.
	Notes []string
	Took  time.Duration
}

func (f Figure) line() string {
	verdict := "pass"
	if !f.Pass {
		verdict = "MISS"
	}
	return fmt.Sprintf("%s %s: %s (target %s) %s", f.ID, f.Name, f.Value, f.Target, verdict)
}

// Options are the knobs of every benchmark; the defaults are the issue's.
type Options struct {
	Binary     string
	ResultsDir string
	// CPUProfile, if set, receives a CPU profile of the whole process.
	CPUProfile string
	// Sidecar is auto, native or container, as the CLI's --sidecar.
	Sidecar string
	Verbose bool

	B1N      int
	B1P      []int
	B1Rounds int
	B2N, B2P int
	B3Reps   int
	B4N, B4P int
	B5N, B5P int
	Kwok     string
	// B5HeapProfile, if set, receives the runner child's heap profile,
	// taken when its run ends.
	B5HeapProfile string
	// B5CPUProfile, if set, receives the runner child's CPU profile of its
	// whole run.
	B5CPUProfile string
	// RealP are B1R's parallelisms; RealSelect, pytest's selection that
	// cuts the real suite (all of it when empty).
	RealP      []int
	RealN      int
	RealRounds int
	RealSelect []string
	B6Rounds   int
	B6Shards   int
	B6P        int
	// B7Rounds are B7's direct/operator pairs; B7Overlay the operator's
	// overlay (auto: local on the local cluster, else default).
	B7Rounds  int
	B7Overlay string
	// M1N are M1's mutations, M1Seed the seed that picks them.
	M1N    int
	M1Seed uint64
	// M1Time, if set, stops M1 from starting another mutation once its
	// mutations have run that long.
	M1Time time.Duration
	// B8N tests at parallelism B8P on B8Nodes kwok nodes; B8QPS and
	// B8Burst are the client rate limits of every arm.
	B8N, B8P, B8Nodes int
	B8QPS             float64
	B8Burst           int
	// M1PodPer is --pod-per of each mutation's full and affected runs;
	// the footprint run is always one pod per test, as footprints need.
	M1PodPer string
	// Settle is the pause between two measured phases, for the node to
	// finish tearing down the previous phase's containers.
	Settle time.Duration
}

type benchmark struct {
	id  string
	run func(context.Context, *Session, Options) (Figure, error)
}

var benchmarks = []benchmark{
	{"b1", b1}, {"b1r", b1r}, {"b2", b2}, {"b3", b3}, {"b4", b4}, {"b5", b5},
	{"b6", b6}, {"b6a", b6auto}, {"b6al", b6autoLong}, {"b7", b7}, {"f1", fidelity}, {"m1", m1}, {"b8", b8},
}

// notInAll are the benchmarks that run only when named: M1 runs the real
// suite twice per mutation, B8 runs 10,000 fake pods four times.
var notInAll = []string{"m1", "b8"}

const usage = `usage: bench [flags] all | b1 b1r b2 b3 b4 b5 b6 b6a b6al b7 f1 | m1 | b8

Runs the benchmarks against the cluster named by KUBECONFIG,
K8S_TESTRUN_REGISTRY and K8S_TESTRUN_BASE_IMAGE. Each prints its figure
last; the exit code is 1 when a target is missed, 2 when a benchmark could
not be carried out. "all" also prints a table and, with -results, writes it
to a dated file there.

Flags:
`

// Main runs the benchmarks named in args and returns the exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) > 0 && args[0] == childCommand {
		return runnerChild(ctx, args[1:], env)
	}
	// A1 needs no cluster, so no session.
	if len(args) > 0 && args[0] == apicovCommand {
		return apicovMain(ctx, args[1:], env)
	}
	if len(args) > 0 && args[0] == apicovChildCommand {
		return apicovChild(ctx, args[1:], env)
	}
	o, names, err := parseFlags(args, env.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, "bench:", err)
		return ExitError
	}
	level := slog.LevelInfo
	if o.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))

	if o.CPUProfile != "" {
		stop, err := startCPUProfile(o.CPUProfile)
		if err != nil {
			fmt.Fprintln(env.Stderr, "bench:", err)
			return ExitError
		}
		defer stop()
	}
	start := time.Now()
	s, err := NewSession(ctx, env.Getenv, o.Binary, env.Stdout, log)
	if err != nil {
		fmt.Fprintln(env.Stderr, "bench:", err)
		return ExitError
	}
	defer s.Close()
	if o.Sidecar != "auto" {
		s.Native = o.Sidecar == "native"
	}

	var figs []Figure
	code := ExitOK
	for _, b := range benchmarks {
		if !contains(names, b.id) {
			continue
		}
		t0 := time.Now()
		fmt.Fprintf(env.Stdout, "== %s\n", strings.ToUpper(b.id))
		f, err := b.run(ctx, s, o)
		f.Took = time.Since(t0)
		if f.ID == "" {
			f.ID, f.Name = strings.ToUpper(b.id), "(not measured)"
		}
		if err != nil {
			f.Value, f.Pass = "error: "+err.Error(), false
			code = ExitError
			log.Error("benchmark failed", "benchmark", b.id, "error", err)
		} else if !f.Pass && code == ExitOK {
			code = ExitMissed
		}
		for _, n := range f.Notes {
			fmt.Fprintln(env.Stdout, "  "+n)
		}
		fmt.Fprintln(env.Stdout, f.line())
		figs = append(figs, f)
		if ctx.Err() != nil {
			break
		}
	}
	if len(figs) > 1 {
		table := Table(figs, time.Since(start))
		fmt.Fprint(env.Stdout, "\n"+table)
		if o.ResultsDir != "" {
			path, err := writeResults(o.ResultsDir, figs, s, time.Since(start), start)
			if err != nil {
				fmt.Fprintln(env.Stderr, "bench:", err)
				return ExitError
			}
			fmt.Fprintln(env.Stdout, "wrote", path)
		}
	}
	return code
}

func parseFlags(args []string, stderr io.Writer) (Options, []string, error) {
	var o Options
	var b1p, realP, realSelect string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&o.Binary, "binary", "", "linux k8s-testrun binary, with k8s-testrun-pod beside it for the test image (default: both built from ./cmd)")
	fs.StringVar(&o.Sidecar, "sidecar", "auto", "collector of the runner's pods: auto (native where the server supports it), native or container")
	fs.StringVar(&o.ResultsDir, "results", "", "directory for the dated results file of a run of several benchmarks")
	fs.BoolVar(&o.Verbose, "v", false, "log progress in detail")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the benchmarks' process to this file")
	fs.IntVar(&o.B1N, "b1-n", 100, "B1: test cases per run")
	fs.StringVar(&b1p, "b1-p", "1,4,8", "B1: parallelisms, comma-separated")
	fs.IntVar(&o.B1Rounds, "b1-rounds", 1, "B1: runner/baseline pairs per parallelism; the order alternates")
	fs.IntVar(&o.B2N, "b2-n", 100, "B2: test cases in the measured run")
	fs.IntVar(&o.B2P, "b2-p", 8, "B2: parallelism of the measured run")
	fs.IntVar(&o.B3Reps, "b3-reps", 3, "B3: repetitions of each build; the median counts")
	fs.IntVar(&o.B4N, "b4-n", 30, "B4: pods with and pods without the sidecar")
	fs.IntVar(&o.B4P, "b4-p", 2, "B4: pods at once")
	fs.IntVar(&o.B5N, "b5-n", 10000, "B5: simulated test cases")
	fs.IntVar(&o.B5P, "b5-p", 100, "B5: parallelism")
	fs.StringVar(&o.B5HeapProfile, "b5-heapprofile", "", "B5: write the runner's heap profile, taken at the end of its run, to this file")
	fs.StringVar(&o.B5CPUProfile, "b5-cpuprofile", "", "B5: write the runner's CPU profile of its whole run to this file")
	fs.StringVar(&o.Kwok, "kwok", "", "B5: kwok binary (default: built from sigs.k8s.io/kwok "+KwokVersion+" into the user cache)")
	fs.StringVar(&realP, "real-p", "4,8", "B1R: parallelisms, comma-separated")
	fs.IntVar(&o.RealN, "real-n", 200, "B1R, B7: tests of the real suite run one pod each, spread evenly over the suite; 0 for all of them")
	fs.IntVar(&o.RealRounds, "real-rounds", 1, "B1R: runner/bare-pods pairs per parallelism; the order alternates")
	fs.StringVar(&realSelect, "real-select", "", "B1R, B6, B7, F1: pytest selection that cuts the real suite, space-separated, e.g. tests/test_dict.py (default: the whole suite)")
	fs.IntVar(&o.B6Rounds, "b6-rounds", 3, "B6: rounds of the three runs; the order rotates")
	fs.IntVar(&o.B6Shards, "b6-shards", 4, "B6, F1: --shards of the sharded run")
	fs.IntVar(&o.B6P, "b6-p", 4, "B6, B7, F1: --parallelism of the CLI's runs (the CLI's default)")
	fs.IntVar(&o.B7Rounds, "b7-rounds", 2, "B7: direct/operator pairs on -real-n tests at -b6-p; the order alternates")
	fs.StringVar(&o.B7Overlay, "b7-overlay", "auto", "B7: the operator's overlay for k8s-testrun install: auto (local on the local cluster of hack/cluster, else default), default or local")
	fs.IntVar(&o.M1N, "m1-n", 20, "M1: single-function mutations of the real suite's library, each run in full and with --affected-since")
	fs.Uint64Var(&o.M1Seed, "m1-seed", 1, "M1: seed that picks the mutations")
	fs.StringVar(&o.M1PodPer, "m1-pod-per", "test", "M1: --pod-per of each mutation's full and affected runs (test, class or file); the footprint run is one pod per test")
	fs.DurationVar(&o.M1Time, "m1-time", 0, "M1: start no further mutation once the mutations have taken this long (0: run all -m1-n)")
	fs.IntVar(&o.B8N, "b8-n", 10000, "B8: simulated tests, run by each arm (bare creator, runner, operator, bare creator with log reads)")
	fs.IntVar(&o.B8P, "b8-p", 500, "B8: parallelism (pods in flight)")
	fs.IntVar(&o.B8Nodes, "b8-nodes", 100, "B8: kwok fake nodes")
	fs.Float64Var(&o.B8QPS, "b8-qps", k8s.DefaultQPS, "B8: client queries per second of every arm (--kube-api-qps)")
	fs.IntVar(&o.B8Burst, "b8-burst", k8s.DefaultBurst, "B8: client burst of every arm (--kube-api-burst)")
	fs.DurationVar(&o.Settle, "settle", 3*time.Second, "pause between measured phases")
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	var err error
	if o.B1P, err = parallelisms("b1-p", b1p); err != nil {
		return o, nil, err
	}
	if o.RealP, err = parallelisms("real-p", realP); err != nil {
		return o, nil, err
	}
	o.RealSelect = strings.Fields(realSelect)
	if o.RealN < 0 {
		return o, nil, fmt.Errorf("-real-n %d: give 0 (all) or more", o.RealN)
	}
	if o.B8QPS <= 0 {
		return o, nil, fmt.Errorf("-b8-qps %g: must be above 0", o.B8QPS)
	}
	if !contains([]string{"auto", "native", "container"}, o.Sidecar) {
		return o, nil, fmt.Errorf("-sidecar %q: give auto, native or container", o.Sidecar)
	}
	if !contains([]string{"auto", "default", "local"}, o.B7Overlay) {
		return o, nil, fmt.Errorf("-b7-overlay %q: give auto, default or local", o.B7Overlay)
	}
	names := fs.Args()
	if len(names) == 0 {
		fs.Usage()
		return o, nil, errors.New("name the benchmarks to run, or all")
	}
	if len(names) == 1 && names[0] == "all" {
		names = nil
		for _, b := range benchmarks {
			if !contains(notInAll, b.id) {
				names = append(names, b.id)
			}
		}
	}
	for _, n := range names {
		if !contains(benchmarkIDs(), n) {
			return o, nil, fmt.Errorf("unknown benchmark %q: give all or some of %s", n, strings.Join(benchmarkIDs(), ", "))
		}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"b1-n", o.B1N}, {"b1-rounds", o.B1Rounds}, {"b2-n", o.B2N}, {"b2-p", o.B2P}, {"b3-reps", o.B3Reps}, {"b4-n", o.B4N}, {"b4-p", o.B4P}, {"b5-n", o.B5N}, {"b5-p", o.B5P},
		{"real-rounds", o.RealRounds}, {"b6-rounds", o.B6Rounds}, {"b6-shards", o.B6Shards}, {"b6-p", o.B6P}, {"b7-rounds", o.B7Rounds}, {"m1-n", o.M1N},
		{"b8-n", o.B8N}, {"b8-p", o.B8P}, {"b8-nodes", o.B8Nodes}, {"b8-burst", o.B8Burst}} {
		if v.n < 1 {
			return o, nil, fmt.Errorf("-%s %d: must be at least 1", v.name, v.n)
		}
	}
	switch o.M1PodPer {
	case "test", "class", "file":
	default:
		return o, nil, fmt.Errorf("-m1-pod-per %q: give test, class or file", o.M1PodPer)
	}
	return o, names, nil
}

// parallelisms reads a comma-separated list of positive integers.
func parallelisms(flagName, v string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-%s %q: give positive integers separated by commas", flagName, v)
		}
		out = append(out, n)
	}
	return out, nil
}

func startCPUProfile(path string) (func(), error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); fh.Close() }, nil
}

func benchmarkIDs() []string {
	ids := make([]string, len(benchmarks))
	for i, b := range benchmarks {
		ids[i] = b.id
	}
	return ids
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Table renders the figures as a Markdown table.
func Table(figs []Figure, took time.Duration) string {
	var b strings.Builder
	b.WriteString("| id | what | figure | target | verdict | took |\n|---|---|---|---|---|---|\n")
	for _, f := range figs {
		verdict := "pass"
		if !f.Pass {
			verdict = "**miss**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", f.ID, f.Name, f.Value, f.Target, verdict, f.Took.Round(time.Second))
	}
	fmt.Fprintf(&b, "\ntotal time: %s\n", took.Round(time.Second))
	return b.String()
}

// writeResults writes the table and every figure's notes to DIR/DATE.md,
// replacing an earlier file of the same day.
func writeResults(dir string, figs []Figure, s *Session, took time.Duration, start time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, start.UTC().Format("2006-01-02")+".md")
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks, %s\n\n", start.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %d CPUs, %s/%s, %s; cluster: Kubernetes %s, single node; registry %s.\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), s.ServerVersion, s.Registry)
	b.WriteString(Table(figs, took))
	for _, f := range figs {
		fmt.Fprintf(&b, "\n## %s %s\n\n", f.ID, f.Name)
		for _, n := range f.Notes {
			fmt.Fprintf(&b, "    %s\n", n)
		}
		fmt.Fprintf(&b, "\n%s\n", f.line())
	}
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}
