package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
)

// Command groups of the top-level help.
const (
	groupTests   = "tests"
	groupCluster = "cluster"
	groupOther   = "other"
)

// newRootCommand builds the command tree. Each subcommand comes from a
// small constructor that binds its flags to one options value and returns
// errors from RunE; Run prints them, once.
func newRootCommand(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "k8s-testrun",
		Short: "Run a pytest suite on Kubernetes, one pod per test",
		Long: `k8s-testrun builds a Python project's test image without a Docker daemon,
discovers its pytest tests in that image, runs every test in its own pod
and merges the results into one JUnit report and a terminal summary; as a
GitHub Action, also a check run, annotations and a job summary.`,
		Example: `  # the sample project on a local cluster
  k8s-testrun run testdata/sample

  # 8 pods at once in namespace ci, the slow tests left out
  k8s-testrun run -p 8 -n ci --repository localhost:5001/myproject ./myproject -- -m "not slow"`,
		Version: versionInfo().String(),
		// Only one word may follow the program's name when it is not a
		// subcommand: none.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
		SuggestionsMinimumDistance: 2,
		SilenceErrors:              true,
		SilenceUsage:               true,
		CompletionOptions:          cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetVersionTemplate("{{.Version}}")
	// A --version of its own, so that cobra does not take -v for it: -v
	// is the run's verbose flag.
	root.Flags().Bool("version", false, "print the version of k8s-testrun, Go and the Kubernetes client")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &flagError{cmd: cmd, err: err}
	})
	root.AddGroup(
		&cobra.Group{ID: groupTests, Title: "Running tests:"},
		&cobra.Group{ID: groupCluster, Title: "Cluster:"},
		&cobra.Group{ID: groupOther, Title: "Other commands:"},
	)
	root.SetHelpCommandGroupID(groupOther)
	root.SetCompletionCommandGroupID(groupOther)
	root.AddCommand(
		newRunCommand(env),
		newActionCommand(env),
		newGCCommand(env),
		newInstallCommand(env),
		newVersionCommand(env),
		// The operator's Deployment runs this role: not for people to type.
		// The roles inside test pods are k8s-testrun-pod's (internal/podcmd).
		newOperatorCommand(env),
	)
	return root
}

// execute runs the command line args and returns the exit code. Every
// error ends up as one line on stderr; a bad flag also names the help to
// read.
func execute(ctx context.Context, args []string, env Env) int {
	env, flush := guardStreams(env)
	defer flush()
	defer routeKlog(env.Stderr)()
	root := newRootCommand(env)
	if len(args) == 0 {
		root.SetOut(env.Stderr)
		_ = root.Usage()
		return ExitInfra
	}
	args = doubleDash(root, args)
	root.SetArgs(args)
	err := singleDashFlag(root, args)
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	var fe *flagError
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &fe):
		printError(env.Stderr, fe)
		return ExitInfra
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

// guardStreams puts each of env's output streams behind a logtext.Writer,
// the one writer every line a person or a workflow runner reads goes
// through, so that no untrusted text (a test ID, a file name, pip's
// output, an error quoting them, a log attribute) issues a workflow
// command, whatever the mode or verbosity: a CLI run in a workflow step is
// read by the runner too. The action's own commands take the stdout
// writer's Commands path (ghaction.NewWorkflow). The returned func prints
// what the writers hold back.
func guardStreams(env Env) (Env, func()) {
	out, ok := env.Stdout.(*logtext.Writer)
	if !ok {
		out = logtext.NewWriter(env.Stdout)
	}
	errw, ok := env.Stderr.(*logtext.Writer)
	if !ok {
		errw = logtext.NewWriter(env.Stderr)
	}
	env.Stdout, env.Stderr = out, errw
	return env, func() {
		_ = out.Flush()
		_ = errw.Flush()
	}
}

// routeKlog sends what client-go logs through klog (API warnings, watch
// errors) to w, as the logger's lines, instead of straight to the
// process's stderr; the returned func puts klog back. At klog's default
// verbosity: V(1) and above are left out.
func routeKlog(w io.Writer) func() {
	klog.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(w, nil)))
	return klog.ClearLogger
}

// exitError ends a command with an exit code of its own; err, when set, is
// printed as the command's one line.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return "exit code " + strconv.Itoa(e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exit is the error RunE returns for a command that chose its exit code:
// nil for success, else an exitError.
func exit(code int, err error) error {
	if code == ExitOK && err == nil {
		return nil
	}
	if code == ExitOK {
		code = ExitInfra
	}
	return &exitError{code: code, err: err}
}

// flagError is a flag the command could not take: unknown, missing its
// value or with a value of the wrong kind.
type flagError struct {
	cmd *cobra.Command
	err error
}

func (e *flagError) Error() string {
	return fmt.Sprintf("%s; see '%s --help'", describeFlagError(e.err), e.cmd.CommandPath())
}

func (e *flagError) Unwrap() error { return e.err }

// describeFlagError words pflag's errors as the other input errors are:
// the flag, the value, what would be valid.
func describeFlagError(err error) string {
	var invalid *pflag.InvalidValueError
	if fix, ok := config.ValueFix(err); ok && errors.As(err, &invalid) {
		name := "--" + invalid.GetFlag().Name
		if invalid.GetFlag().Value.Type() == "bool" {
			return fmt.Sprintf("%s=%s: %s", name, invalid.GetValue(), fix)
		}
		return fmt.Sprintf("%s %q: %s", name, invalid.GetValue(), fix)
	}
	var missing *pflag.ValueRequiredError
	if errors.As(err, &missing) {
		f := missing.GetFlag()
		return fmt.Sprintf("--%s needs a value (%s)", f.Name, f.Value.Type())
	}
	var unknown *pflag.NotExistError
	if errors.As(err, &unknown) {
		if n := unknown.GetSpecifiedName(); n != "" && unknown.GetSpecifiedShortnames() == "" {
			return "unknown flag --" + n
		}
		return "unknown flag -" + unknown.GetSpecifiedName()
	}
	return err.Error()
}

// annotationSingleDash marks a command that takes -flag for --flag, as Go's
// flag package did.
const annotationSingleDash = "k8s-testrun.io/single-dash"

// doubleDash rewrites -name and -name=value into --name and --name=value,
// up to "--", for each flag name of the command args run, when that
// command is annotated annotationSingleDash; other commands' arguments are
// returned as they are.
func doubleDash(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd.Annotations[annotationSingleDash] != "true" {
		return args
	}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) >= 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if name == "help" || cmd.Flags().Lookup(name) != nil {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// singleDashFlag catches a long flag given with one dash, as Go's flag
// package took them (-parallelism 8), before pflag reads it as a cluster of
// short flags and reports something confusing.
func singleDashFlag(root *cobra.Command, args []string) error {
	cmd, _, err := root.Find(args)
	if err != nil || cmd.DisableFlagParsing {
		return nil
	}
	for _, a := range args {
		if a == "--" {
			return nil
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if f := cmd.Flags().Lookup(name); f != nil {
			return &flagError{cmd: cmd, err: fmt.Errorf("-%s: flags take two dashes: --%s", name, name)}
		}
	}
	return nil
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return fmt.Errorf("%s; see '%s --help'", msg, cmd.CommandPath())
}
