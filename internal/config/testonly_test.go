package config

import (
	"io"

	"github.com/spf13/pflag"
)

// ParseRun reads the arguments of the run subcommand:
//
//	run [flags] [PROJECT_DIR] [-- PYTEST_SELECTION...]
//
// getenv supplies defaults that the environment gives (KUBECONFIG and the
// local cluster's K8S_TESTRUN_REGISTRY); usage goes to out. The command line
// binds the same flags with BindRunFlags and calls Complete itself.
func ParseRun(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Config{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(out)
	BindRunFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	positional, selection := SplitAtDash(fs.Args(), fs.ArgsLenAtDash())
	return c, c.Complete(positional, selection, getenv)
}

// BaseImage is the first base image: the only one outside a runtime
// matrix.
func (c Config) BaseImage() string {
	if len(c.BaseImages) == 0 {
		return ""
	}
	return c.BaseImages[0]
}
