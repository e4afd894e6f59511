package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/app"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/runner"
)

// B5Target bounds the runner's peak resident memory.
const B5Target = 100 << 20

// childCommand is the hidden subcommand that runs the runner alone, so its
// memory is measured without the harness's.
const childCommand = "runner-child"

// ChildReport is what the runner child prints as its last line.
type ChildReport struct {
	Cases, Passed, Final, ResultErrors int
	Wall                               time.Duration
	// VmHWM is the child's peak resident set, from /proc/self/status.
	VmHWM int64
	// HeapSys is what the Go heap took from the system at the end.
	HeapSys uint64
}

// b5 runs the runner for many cases in a child process against pods that
// kwok plays on a fake node: they go Running, then Succeeded with the test
// container exited 0. Reading a fake pod's collector log fails (the fake
// node's kubelet port is closed), so every attempt carries a result error
// while its outcome stands; the memory figure does not depend on it.
func b5(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B5", Name: "runner peak RSS", Target: fmt.Sprintf("≤ %d MB", B5Target>>20)}
	bin, err := kwokBinary(ctx, o.Kwok, s)
	if err != nil {
		return f, err
	}
	kwok, err := s.StartKwok(ctx, bin)
	if err != nil {
		return f, err
	}
	runID := newRunID()
	defer func() {
		if err := s.cleanRun(ctx, runID); err != nil {
			s.Log.Warn("cleaning up", "run", runID, "error", err)
		}
		kwok.Stop()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		s.deleteKwokNode(cctx)
	}()

	self, err := os.Executable()
	if err != nil {
		return f, err
	}
	s.Log.Info("B5 run", "cases", o.B5N, "parallelism", o.B5P, "node", kwok.Node)
	args := []string{childCommand,
		"-namespace", s.Namespace, "-run-id", runID, "-image", s.BaseImage,
		"-n", strconv.Itoa(o.B5N), "-p", strconv.Itoa(o.B5P),
		"-node-label", LabelBench + "=" + s.ID, "-native=" + strconv.FormatBool(s.Native)}
	for flag, file := range map[string]string{"-heapprofile": o.B5HeapProfile, "-cpuprofile": o.B5CPUProfile} {
		if file == "" {
			continue
		}
		path, err := filepath.Abs(file)
		if err != nil {
			return f, err
		}
		args = append(args, flag, path)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	tl, err := StartTimeline(ctx, s.Cluster.Client, s.Namespace, k8s.RunSelector(runID))
	if err != nil {
		return f, err
	}
	defer tl.Stop()
	if err := cmd.Run(); err != nil {
		return f, fmt.Errorf("runner child: %w", err)
	}
	rep, err := lastReport(out.Bytes())
	if err != nil {
		return f, err
	}
	if rep.Final != rep.Cases {
		return f, fmt.Errorf("the runner finished %d of %d cases", rep.Final, rep.Cases)
	}
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
	f.Notes = append(f.Notes,
		fmt.Sprintf("%d cases at parallelism %d on a kwok %s node, run in %s", rep.Cases, o.B5P, KwokVersion, rep.Wall.Round(time.Millisecond)),
		fmt.Sprintf("passed %d, result errors %d (fake pods have no collector log)", rep.Passed, rep.ResultErrors),
		Summarise(tl.Pods(), o.B5P).String(),
		// Not getrusage's maxrss: after a vfork and exec, Linux counts the
		// parent's resident set at the exec into the child's.
		fmt.Sprintf("peak RSS (VmHWM of the runner's process): %s; Go heap from the system at the end %s",
			mb(rep.VmHWM), mb(int64(rep.HeapSys))))
	f.Value = mb(rep.VmHWM)
	f.Pass = rep.VmHWM <= B5Target
	return f, nil
}

func lastReport(out []byte) (ChildReport, error) {
	var rep ChildReport
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		return rep, fmt.Errorf("runner child printed no report: %q", out)
	}
	return rep, nil
}

// runnerChild runs the runner alone and prints a ChildReport.
func runnerChild(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet(childCommand, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	ns := fs.String("namespace", "", "namespace")
	runID := fs.String("run-id", "", "run id")
	image := fs.String("image", "", "image")
	n := fs.Int("n", 1000, "cases")
	p := fs.Int("p", 100, "parallelism")
	nodeLabel := fs.String("node-label", "", "key=value of the node to run on")
	native := fs.Bool("native", true, "native sidecar")
	heapProfile := fs.String("heapprofile", "", "file for the heap profile at the end of the run")
	cpuProfile := fs.String("cpuprofile", "", "file for the CPU profile of the run")
	qps := fs.Float64("kube-api-qps", k8s.DefaultQPS, "the client's queries per second")
	burst := fs.Int("kube-api-burst", k8s.DefaultBurst, "the client's burst")
	if err := fs.Parse(args); err != nil {
		return ExitError
	}
	// The same soft memory limit as `k8s-testrun run`.
	defer app.LimitMemory(os.Getenv)()
	err := func() error {
		key, value, ok := strings.Cut(*nodeLabel, "=")
		if !ok {
			return errors.New("-node-label: give key=value")
		}
		cluster, err := k8s.Connect(k8s.ClientOptions{Namespace: *ns, QPS: float32(*qps), Burst: *burst})
		if err != nil {
			return err
		}
		ids := make([]string, *n)
		for i := range ids {
			ids[i] = fmt.Sprintf("tests/test_trivial_%03d.py::test_%04d", i/testsPerFile, i)
		}
		tmpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			NodeSelector: map[string]string{key: value},
			Tolerations:  []corev1.Toleration{{Key: kwokTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		}}
		if *cpuProfile != "" {
			stop, err := startCPUProfile(*cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
		}
		start := time.Now()
		results, err := runner.Run(ctx, runner.Options{
			Client: cluster.Client, Namespace: *ns, RunID: *runID, Image: *image,
			Cases: Cases(ids), Parallelism: *p, MaxAttempts: 1, Timeout: caseTimeout,
			NativeSidecar: *native, Template: tmpl,
			Logger: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if err != nil {
			return err
		}
		rep := ChildReport{Cases: len(results), Wall: time.Since(start)}
		for _, r := range results {
			if r.Final {
				rep.Final++
			}
			if r.Status == plan.Passed {
				rep.Passed++
			}
			if len(r.Attempts) > 0 && r.Attempts[len(r.Attempts)-1].ResultErr != nil {
				rep.ResultErrors++
			}
		}
		if rep.VmHWM, err = app.PeakRSS(); err != nil {
			return err
		}
		// With the results still held, so that what the run keeps shows.
		if *heapProfile != "" {
			if err := writeHeapProfile(*heapProfile); err != nil {
				return err
			}
			runtime.KeepAlive(results)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rep.HeapSys = ms.HeapSys
		return json.NewEncoder(env.Stdout).Encode(rep)
	}()
	if err != nil {
		fmt.Fprintln(env.Stderr, "runner child:", err)
		return ExitError
	}
	return ExitOK
}

func writeHeapProfile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
