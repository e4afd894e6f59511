package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/shim"
	"github.com/k8s-testrun/k8s-testrun/internal/sidecar"
)

// shimCommand is the test container's entrypoint:
//
//	shim [--results DIR] -- COMMAND...
//
// It exits with the command's exit code.
func shimCommand(ctx context.Context, args []string, env Env) (int, error) {
	fs := flag.NewFlagSet("shim", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	results := fs.String("results", layout.ResultsDir, "directory shared with the collector")
	stream := fs.Bool("stream", false, "make the streaming pytest plugin importable; it writes each test's result as it finishes")
	testTimeout := fs.Duration("test-timeout", 0, "with --stream, stop the command when one test runs longer")
	var services []shim.Service
	fs.Func("service", "NAME=tcp:HOST:PORT or NAME=http://HOST:PORT/PATH: wait until it answers before the command (repeatable)", func(v string) error {
		s, err := shim.ParseService(v)
		services = append(services, s)
		return err
	})
	serviceTimeout := fs.Duration("service-timeout", shim.DefaultServiceTimeout, "how long to wait for the services")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, errHelp
		}
		return ExitInfra, err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return ExitInfra, errors.New("shim: no command given after --")
	}
	// Signals are forwarded to the test's process group rather than ending
	// the shim, so pytest can stop cleanly and the shim still records its
	// exit code and the done marker.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	code, err := shim.Run(context.WithoutCancel(ctx), argv, *results, env.Stdout, env.Stderr, shim.Options{
		Env:         env.Environ(),
		Signals:     sigs,
		Stream:      *stream,
		TestTimeout: *testTimeout,

		Services:       services,
		ServiceTimeout: *serviceTimeout,
	})
	if err != nil {
		fmt.Fprintln(env.Stderr, "k8s-testrun shim:", err)
	}
	return code, nil
}

// collectCommand is the discovery pod's entrypoint:
//
//	collect [-- SELECTION...]
//
// It runs pytest's collection of the selection, then prints pytest's JUnit
// of it as a transport block, and exits with pytest's exit code.
func collectCommand(ctx context.Context, args []string, env Env) (int, error) {
	fs := flag.NewFlagSet(discover.Role, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	python := fs.String("python", "python", "the Python interpreter that runs pytest")
	checkCoverage := fs.Bool(strings.TrimPrefix(discover.CoverageFlag, "--"), false, "also say whether the Python has coverage.py")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, errHelp
		}
		return ExitInfra, err
	}
	code, err := discover.Collect(ctx, fs.Args(), env.Stdout, env.Stderr, discover.CollectOptions{
		Python:        *python,
		Env:           env.Environ(),
		CheckCoverage: *checkCoverage,
	})
	if err != nil {
		fmt.Fprintln(env.Stderr, "k8s-testrun collect:", err)
	}
	return code, nil
}

// coverageCommand is the coverage pod's entrypoint:
//
//	coverage-combine [--rcfile FILE] [--data DIR] [--dir DIR]
//
// It combines the coverage.py data files of the run, which the image holds,
// and prints the Cobertura report as a transport block.
func coverageCommand(ctx context.Context, args []string, env Env) (int, error) {
	fs := flag.NewFlagSet(coverage.Role, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	python := fs.String("python", "python", "the Python interpreter that runs coverage.py")
	data := fs.String("data", coverage.DataDir, "directory of the data files")
	rcfile := fs.String("rcfile", coverage.RcfilePath, "coverage.py's configuration")
	dir := fs.String("dir", layout.WorkDir, "the project, where the test pods measured it")
	limit := fs.Int("limit", coverage.BlockLimit, "largest block to print, in bytes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, errHelp
		}
		return ExitInfra, err
	}
	code, err := coverage.Combine(ctx, coverage.CombineOptions{
		Python: *python, DataDir: *data, Rcfile: *rcfile, Dir: *dir, Limit: *limit, Env: env.Environ(),
	}, env.Stdout, env.Stderr)
	if err != nil {
		fmt.Fprintln(env.Stderr, "k8s-testrun "+coverage.Role+":", err)
	}
	return code, nil
}

// sidecarCommand is the collector's entrypoint. It ends when the test has
// finished and its results are shipped, or, with --hold, when it is told to
// stop (the command's context is cancelled on SIGTERM).
func sidecarCommand(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	results := fs.String("results", layout.ResultsDir, "directory shared with the test container")
	limit := fs.Int("limit", sidecar.DefaultLimit, "largest block to ship, in bytes")
	hold := fs.Bool("hold", false, "after shipping, wait to be stopped (native sidecar)")
	linger := fs.String("linger-file", "", "file holding how long to keep the pod after the test")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	return sidecar.Run(ctx, *results, env.Stdout, sidecar.Options{
		Limit:      *limit,
		Hold:       *hold,
		LingerFile: *linger,
	})
}
