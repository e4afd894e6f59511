// Package shim is the test container's entrypoint: it runs the test command
// as a child, keeps a copy of its output, forwards the signals the kubelet
// sends, and leaves the exit code and a done marker for the collector
// sidecar.
//
// The shim exists because pytest, as PID 1 of a container, would neither
// write its exit code where the sidecar can read it nor signal the sidecar
// that it finished; and because the test's output must reach both the
// container log (kubectl logs) and the results.
package shim

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// ExitStartFailed is the exit code when the command could not be started, as
// a shell reports a command it cannot run.
const ExitStartFailed = 127

// Options are Run's optional settings.
type Options struct {
	// Env is the child's environment, to which K8S_TESTRUN_ARTIFACTS is
	// added. The command passes its own environment; nil gives the child
	// nothing else.
	Env []string
	// Signals carries the signals to forward to the child's process group;
	// the command subscribes it to SIGTERM and SIGINT. Nil forwards nothing.
	Signals <-chan os.Signal
	// WaitDelay bounds how long Run waits for the child's output once the
	// child has exited, in case a process it started keeps the pipes open.
	// Zero means 5 seconds.
	WaitDelay time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
	// Stream points the streaming pytest plugin (layout.StreamPlugin) at
	// resultsDir/cases, where it writes each test's result as the test
	// finishes. The command must load it (-p) and write JUnit
	// (--junitxml), whose entries it streams. The plugins, this one and
	// layout.MarkersPlugin, are importable by the child either way.
	Stream bool
	// TestTimeout, with Stream, stops the child when one test runs longer:
	// the shim names the test in resultsDir/cases/timedout and kills the
	// child's process group. Zero means no limit.
	TestTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Services are checked, in turn, before the command starts; one still
	// failing after ServiceTimeout ends Run with layout.ExitServiceNotReady
	// and a last line that starts with layout.ServiceNotReadyPrefix. A
	// signal from Signals while it waits ends the wait.
	Services       []Service
	ServiceTimeout time.Duration
}

//go:embed k8s_testrun_stream.py
var streamPlugin []byte

//go:embed k8s_testrun_markers.py
var markersPlugin []byte

// Run runs argv with its output copied to stdout and stderr and to
// resultsDir/output.txt, and returns its exit code: the child's own, or 128
// plus the signal that killed it, or ExitStartFailed. Whatever happens once
// resultsDir exists, Run writes resultsDir/exitcode and then, last,
// resultsDir/done, each by rename, so the sidecar never reads a partial
// file. The exit code is meaningful even when err is not nil; err reports
// what went wrong around the child (an output file that filled up, a pipe
// held open).
//
// The child runs in its own process group. Signals from opts.Signals go to
// the whole group, so processes the test started stop with it; cancelling
// ctx kills the group.
func Run(ctx context.Context, argv []string, resultsDir string, stdout, stderr io.Writer, opts Options) (int, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	artifacts := filepath.Join(resultsDir, strings.TrimPrefix(layout.ArtifactsDir, layout.ResultsDir+"/"))
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return ExitStartFailed, fmt.Errorf("creating artifacts directory: %w", err)
	}
	out, err := os.OpenFile(filepath.Join(resultsDir, layout.OutputFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return ExitStartFailed, errors.Join(fmt.Errorf("creating output file: %w", err), finish(resultsDir, ExitStartFailed, time.Now(), time.Now()))
	}
	file := &fileSink{f: out}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	env, cleanup, err := pluginEnv(opts.Env, resultsDir, opts.Stream)
	if err != nil {
		return ExitStartFailed, errors.Join(err, file.close(), finish(resultsDir, ExitStartFailed, opts.Now(), opts.Now()))
	}
	defer cleanup()
	opts.Env = env
	if len(opts.Services) > 0 {
		if code, ok := waitForServices(ctx, opts, tee{term: stderr, file: file}); !ok {
			now := opts.Now()
			return code, errors.Join(file.close(), finish(resultsDir, code, now, now))
		}
	}
	started := opts.Now()
	code, runErr := run(ctx, argv, artifacts, tee{term: stdout, file: file}, tee{term: stderr, file: file}, opts, logger)
	exited := opts.Now()
	if runErr != nil && code == ExitStartFailed {
		// The test's output is where a reader of the report looks first.
		_, _ = fmt.Fprintf(tee{term: io.Discard, file: file}, "k8s-testrun shim: %v\n", runErr)
	}
	return code, errors.Join(runErr, file.close(), finish(resultsDir, code, started, exited))
}

// pluginEnv writes the pytest plugins where the child's Python finds them
// and returns the child's environment with PYTHONPATH set and, with
// stream, the streaming plugin's directory and the clock anchor.
func pluginEnv(env []string, resultsDir string, stream bool) ([]string, func(), error) {
	cases := filepath.Join(resultsDir, layout.CasesDir)
	if stream {
		if err := os.MkdirAll(cases, 0o755); err != nil {
			return nil, nil, fmt.Errorf("creating %s: %w", cases, err)
		}
	}
	dir, err := os.MkdirTemp("", "k8s-testrun-plugin-")
	if err != nil {
		// A read-only root filesystem leaves the results volume, whose
		// files the collector ships only by name.
		dir, err = os.MkdirTemp(resultsDir, ".k8s-testrun-plugin-")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("writing the pytest plugins: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	for name, src := range map[string][]byte{layout.StreamPlugin: streamPlugin, layout.MarkersPlugin: markersPlugin} {
		if err := os.WriteFile(filepath.Join(dir, name+".py"), src, 0o644); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("writing the pytest plugins: %w", err)
		}
	}
	out := make([]string, 0, len(env)+3)
	pythonPath := dir
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "PYTHONPATH="):
			if old := strings.TrimPrefix(kv, "PYTHONPATH="); old != "" {
				pythonPath += string(os.PathListSeparator) + old
			}
		case strings.HasPrefix(kv, layout.StreamDirEnv+"="), strings.HasPrefix(kv, layout.ClockEnv+"="):
		default:
			out = append(out, kv)
		}
	}
	out = append(out, "PYTHONPATH="+pythonPath)
	if stream {
		out = append(out, layout.StreamDirEnv+"="+cases)
		if anchor, err := clockAnchor(); err == nil {
			out = append(out, layout.ClockEnv+"="+anchor)
		}
	}
	return out, cleanup, nil
}

// clockAnchor reads the real time and CLOCK_MONOTONIC at one moment, in
// seconds, for the streaming plugin: under libfaketime with a real
// monotonic clock it derives the real time from them, so that test times
// and the timeout stay real while the test sees the fake time.
func clockAnchor() (string, error) {
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		return "", err
	}
	real := time.Now()
	return fmt.Sprintf("%.6f %.6f", float64(real.UnixNano())/1e9, float64(mono.Nano())/1e9), nil
}

func run(ctx context.Context, argv []string, artifacts string, stdout, stderr io.Writer, opts Options, logger *slog.Logger) (int, error) {
	if len(argv) == 0 {
		return ExitStartFailed, errors.New("no command to run")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(slices.Clone(opts.Env), layout.ArtifactsEnv+"="+artifacts)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = opts.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 5 * time.Second
	}
	if err := cmd.Start(); err != nil {
		return ExitStartFailed, fmt.Errorf("starting %s: %w", argv[0], err)
	}

	exited := make(chan struct{})
	var forwarding sync.WaitGroup
	if opts.Stream && opts.TestTimeout > 0 {
		forwarding.Go(func() {
			watchTimeout(exited, filepath.Join(filepath.Dir(artifacts), layout.CasesDir), opts.TestTimeout, opts.Now, func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}, logger)
		})
	}
	forwarding.Go(func() {
		for {
			select {
			case <-exited:
				return
			case sig := <-opts.Signals:
				s, ok := sig.(syscall.Signal)
				if !ok {
					continue
				}
				logger.Debug("forwarding signal", "signal", s, "pgid", cmd.Process.Pid)
				// ESRCH: the group is already gone, nothing to stop.
				if err := syscall.Kill(-cmd.Process.Pid, s); err != nil && !errors.Is(err, syscall.ESRCH) {
					logger.Debug("forwarding signal failed", "signal", s, "err", err)
				}
			}
		}
	})
	err := cmd.Wait()
	close(exited)
	forwarding.Wait()

	code := exitCode(cmd.ProcessState)
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		err = nil // the exit code says it
	}
	if err != nil {
		err = fmt.Errorf("waiting for %s: %w", argv[0], err)
	}
	logger.Debug("child exited", "code", code)
	return code, err
}

// exitCode follows the shell's convention: the exit status, or 128 plus the
// number of the signal that ended the process.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// timeoutPoll is how often the running test is checked against its timeout.
const timeoutPoll = 100 * time.Millisecond

// watchTimeout reads the test the streaming plugin names as running until
// exited is closed; when one runs past timeout it records the test in
// cases/timedout and calls kill, once.
func watchTimeout(exited <-chan struct{}, cases string, timeout time.Duration, now func() time.Time, kill func(), logger *slog.Logger) {
	ticker := time.NewTicker(timeoutPoll)
	defer ticker.Stop()
	for {
		select {
		case <-exited:
			return
		case <-ticker.C:
		}
		b, err := os.ReadFile(filepath.Join(cases, layout.CurrentFile))
		if err != nil || len(b) == 0 {
			continue
		}
		var cur struct {
			NodeID string  `json:"nodeid"`
			Start  float64 `json:"start"`
		}
		if json.Unmarshal(b, &cur) != nil || cur.NodeID == "" {
			continue
		}
		started := time.Unix(0, int64(cur.Start*1e9))
		if now().Sub(started) < timeout {
			continue
		}
		logger.Debug("test timed out", "test", cur.NodeID, "timeout", timeout)
		if err := writeAtomic(filepath.Join(cases, layout.TimedOutFile), b); err != nil {
			logger.Debug("recording the timeout failed", "err", err)
		}
		kill()
		return
	}
}

// Times is when the test process started and exited, as the shim records
// them in layout.TimesFile: finer than the API server's whole seconds.
type Times struct {
	Start int64 `json:"start"`
	Exit  int64 `json:"exit"`
}

// finish writes the exit code and the times, then the done marker.
func finish(resultsDir string, code int, started, exited time.Time) error {
	if err := writeAtomic(filepath.Join(resultsDir, layout.ExitCodeFile), []byte(strconv.Itoa(code)+"\n")); err != nil {
		return err
	}
	times, _ := json.Marshal(Times{Start: started.UnixNano(), Exit: exited.UnixNano()})
	if err := writeAtomic(filepath.Join(resultsDir, layout.TimesFile), times); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(resultsDir, layout.DoneFile), nil)
}

// writeAtomic writes a temporary file next to path and renames it there.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	_, werr := f.Write(data)
	err = errors.Join(werr, f.Chmod(0o644), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// tee copies the child's output to a terminal stream and the output file. It
// never fails, so that a full disk or a closed log stream cannot stall or
// kill the test; fileSink keeps the first error for Run to report.
type tee struct {
	term io.Writer
	file *fileSink
}

func (t tee) Write(p []byte) (int, error) {
	t.file.write(p)
	if _, err := t.term.Write(p); err != nil {
		t.file.fail(fmt.Errorf("copying output to the container log: %w", err))
	}
	return len(p), nil
}

// fileSink is output.txt, shared by the stdout and stderr copies. After a
// failed write it stops writing to the file; the copy to the container log
// goes on.
type fileSink struct {
	mu       sync.Mutex
	f        *os.File
	writeErr error
	termErr  error
}

func (s *fileSink) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil {
		return
	}
	if _, err := s.f.Write(p); err != nil {
		s.writeErr = fmt.Errorf("writing %s: %w", layout.OutputFile, err)
	}
}

func (s *fileSink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.termErr == nil {
		s.termErr = err
	}
}

func (s *fileSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var closeErr error
	if err := s.f.Close(); err != nil {
		closeErr = fmt.Errorf("closing %s: %w", layout.OutputFile, err)
	}
	return errors.Join(s.writeErr, s.termErr, closeErr)
}
