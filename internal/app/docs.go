package app

import (
	"io"

	"github.com/spf13/cobra"
)

// CommandTree is the command line as people see it, built with an empty
// environment so that nothing of this machine shows in it: the reference
// page docs/cli.md is generated from it, and the examples of the docs are
// parsed by its flags.
func CommandTree() *cobra.Command {
	return newRootCommand(Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
}
