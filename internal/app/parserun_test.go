package app

import (
	"io"

	"github.com/spf13/pflag"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

// parseRun reads the arguments of the run subcommand as the command line
// does: the flags BindRunFlags defines, then Complete with what stood
// before and after "--".
func parseRun(args []string, getenv func(string) string, out io.Writer) (config.Config, error) {
	c := config.Config{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(out)
	config.BindRunFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	positional, selection := config.SplitAtDash(fs.Args(), fs.ArgsLenAtDash())
	return c, c.Complete(positional, selection, getenv)
}
