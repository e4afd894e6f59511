// Package podcmd is the command line of k8s-testrun-pod, the small binary
// the test image carries: the roles that run inside the pods k8s-testrun
// creates (shim, collect, coverage-combine, sidecar), as cobra commands.
//
// Their command lines are written into pod specs by k8s-testrun, possibly
// another version of it (the operator's), so the flag names, defaults and
// usage texts stay those the roles always had. The package must stay light:
// nothing here may reach the Kubernetes client, the registry or GitHub
// (deps_test.go checks it), since every node pulls this binary.
package podcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/shim"
	"github.com/k8s-testrun/k8s-testrun/internal/sidecar"
)

// Exit codes of the roles besides the child's own: ExitInfra for a bad
// command line or a role that could not do its work.
const (
	ExitOK    = 0
	ExitInfra = 2
)

// Env is what the process gives the command.
type Env struct {
	Stdout, Stderr io.Writer
	// Environ is the whole environment, handed to the child process.
	Environ func() []string
}

func (e Env) environ() []string {
	if e.Environ == nil {
		return nil
	}
	return e.Environ()
}

// exitError carries a role's exit code to Run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

// Run executes the role in args (without the program name) and returns the
// process exit code. Errors end as one line on stderr.
func Run(ctx context.Context, args []string, env Env) int {
	root := NewCommand(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		if ee.err != nil {
			printError(env.Stderr, ee.err)
		}
		return ee.code
	default:
		printError(env.Stderr, err)
		return ExitInfra
	}
}

func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "k8s-testrun:", logtext.Line(err.Error()))
}

// NewCommand is the pod binary's command tree.
func NewCommand(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   layout.PodBinaryName + " ROLE",
		Short: "The roles k8s-testrun plays inside the pods it creates",
		Long: `k8s-testrun-pod is the part of k8s-testrun the test image carries: the test
container's shim, the discovery pod's collection, the coverage pod's combine
and the results collector. k8s-testrun writes these command lines into the
pod specs; they are not for people to type.`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		Args:              cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(env.Stderr)
			_ = cmd.Usage()
			return &exitError{code: ExitInfra}
		},
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: ExitInfra, err: err}
	})
	root.AddCommand(newShimCommand(env), newCollectCommand(env), newCoverageCommand(env), newSidecarCommand(env))
	return root
}

// role is a pod role's command. Flags stop at the first argument that is
// not one, as the roles' Go flag sets always did, so the child's command
// line passes through whole.
func role(use, short string, run func(*cobra.Command, []string) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE:  run,
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func newShimCommand(env Env) *cobra.Command {
	var (
		results                     = layout.ResultsDir
		stream                      bool
		testTimeout, serviceTimeout time.Duration
		services                    []shim.Service
	)
	cmd := role("shim [--results DIR] -- COMMAND...",
		"Run pytest as a child, forward signals, record its exit code (the test container's entrypoint)",
		func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitError{code: ExitInfra, err: errors.New("shim: no command given after --")}
			}
			// Signals are forwarded to the test's process group rather than
			// ending the shim, so pytest can stop cleanly and the shim still
			// records its exit code and the done marker.
			sigs := make(chan os.Signal, 4)
			signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
			defer signal.Stop(sigs)
			code, err := shim.Run(context.WithoutCancel(cmd.Context()), args, results, env.Stdout, env.Stderr, shim.Options{
				Env:         env.environ(),
				Signals:     sigs,
				Stream:      stream,
				TestTimeout: testTimeout,

				Services:       services,
				ServiceTimeout: serviceTimeout,
			})
			if err != nil {
				fmt.Fprintln(env.Stderr, "k8s-testrun shim:", err)
			}
			return exitCode(code)
		})
	f := cmd.Flags()
	f.StringVar(&results, "results", results, "directory shared with the collector")
	f.BoolVar(&stream, "stream", false, "make the streaming pytest plugin importable; it writes each test's result as it finishes")
	f.DurationVar(&testTimeout, "test-timeout", 0, "with --stream, stop the command when one test runs longer")
	f.Func("service", "NAME=tcp:HOST:PORT or NAME=http://HOST:PORT/PATH: wait until it answers before the command (repeatable)", func(v string) error {
		s, err := shim.ParseService(v)
		services = append(services, s)
		return err
	})
	f.DurationVar(&serviceTimeout, "service-timeout", shim.DefaultServiceTimeout, "how long to wait for the services")
	return cmd
}

func newCollectCommand(env Env) *cobra.Command {
	var (
		python        string
		checkCoverage bool
	)
	cmd := role(discover.Role+" [-- SELECTION...]",
		"Run pytest's collection and print its JUnit after its output (the discovery pod's entrypoint)",
		func(cmd *cobra.Command, args []string) error {
			code, err := discover.Collect(cmd.Context(), args, env.Stdout, env.Stderr, discover.CollectOptions{
				Python:        python,
				Env:           env.environ(),
				CheckCoverage: checkCoverage,
			})
			if err != nil {
				fmt.Fprintln(env.Stderr, "k8s-testrun collect:", err)
			}
			return exitCode(code)
		})
	f := cmd.Flags()
	f.StringVar(&python, "python", "python", "the Python interpreter that runs pytest")
	f.BoolVar(&checkCoverage, strings.TrimPrefix(discover.CoverageFlag, "--"), false, "also say whether the Python has coverage.py")
	return cmd
}

func newCoverageCommand(env Env) *cobra.Command {
	o := coverage.CombineOptions{Python: "python", DataDir: coverage.DataDir, Rcfile: coverage.RcfilePath, Dir: layout.WorkDir, Limit: coverage.BlockLimit}
	cmd := role(coverage.Role+" [--rcfile FILE] [--data DIR] [--dir DIR]",
		"Combine the run's coverage data and print the Cobertura report (the coverage pod's entrypoint)",
		func(cmd *cobra.Command, _ []string) error {
			o.Env = env.environ()
			code, err := coverage.Combine(cmd.Context(), o, env.Stdout, env.Stderr)
			if err != nil {
				fmt.Fprintln(env.Stderr, "k8s-testrun "+coverage.Role+":", err)
			}
			return exitCode(code)
		})
	f := cmd.Flags()
	f.StringVar(&o.Python, "python", o.Python, "the Python interpreter that runs coverage.py")
	f.StringVar(&o.DataDir, "data", o.DataDir, "directory of the data files")
	f.StringVar(&o.Rcfile, "rcfile", o.Rcfile, "coverage.py's configuration")
	f.StringVar(&o.Dir, "dir", o.Dir, "the project, where the test pods measured it")
	f.IntVar(&o.Limit, "limit", o.Limit, "largest block to print, in bytes")
	return cmd
}

// newSidecarCommand is the collector's entrypoint. It ends when the test
// has finished and its results are shipped, or, with --hold, when it is
// told to stop (the command's context is cancelled on SIGTERM).
func newSidecarCommand(env Env) *cobra.Command {
	var (
		results = layout.ResultsDir
		o       = sidecar.Options{Limit: sidecar.DefaultLimit}
	)
	cmd := role("sidecar [--results DIR]",
		"Wait for the test to finish and ship its results through the log (the collector's entrypoint)",
		func(cmd *cobra.Command, _ []string) error {
			if err := sidecar.Run(cmd.Context(), results, env.Stdout, o); err != nil {
				return &exitError{code: ExitInfra, err: err}
			}
			return nil
		})
	f := cmd.Flags()
	f.StringVar(&results, "results", results, "directory shared with the test container")
	f.IntVar(&o.Limit, "limit", o.Limit, "largest block to ship, in bytes")
	f.BoolVar(&o.Hold, "hold", false, "after shipping, wait to be stopped (native sidecar)")
	f.StringVar(&o.LingerFile, "linger-file", "", "file holding how long to keep the pod after the test")
	return cmd
}

// exitCode ends a role with its child's exit code.
func exitCode(code int) error {
	if code == ExitOK {
		return nil
	}
	return &exitError{code: code}
}
