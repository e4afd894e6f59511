package docgen

import (
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCLIListsCommandsAndFlags(t *testing.T) {
	root := &cobra.Command{Use: "tool", Short: "a tool"}
	run := &cobra.Command{Use: "run [DIR]", Short: "runs", Example: "  tool run -p 2 .", RunE: func(*cobra.Command, []string) error { return nil }}
	run.Flags().IntP("parallelism", "p", 4, "pods at once")
	run.Flags().String("junit", "out.xml", "the `FILE` to write")
	run.Flags().Bool("verbose", false, "log more")
	run.Flags().String("secret", "", "hidden")
	require.NoError(t, run.Flags().MarkHidden("secret"))
	hidden := &cobra.Command{Use: "internal", Hidden: true, RunE: run.RunE}
	root.AddCommand(run, hidden)
	page := string(CLI(root))
	assert.Contains(t, page, Generated)
	assert.Contains(t, page, "\n## tool run\n")
	assert.Contains(t, page, "```text\ntool run [DIR] [flags]\n```")
	assert.Contains(t, page, "```sh\ntool run -p 2 .\n```")
	assert.Contains(t, page, "- `-p`, `--parallelism` int (default `4`): pods at once")
	assert.Contains(t, page, "- `--junit` FILE (default `out.xml`): the FILE to write")
	assert.Contains(t, page, "- `--verbose`: log more")
	assert.NotContains(t, page, "secret")
	assert.NotContains(t, page, "## tool internal")
	assert.Contains(t, page, "left out: `tool internal`.")
	assert.Equal(t, page, string(CLI(root)), "the same tree gives the same page")
}

func TestActionKeepsTheFileOrder(t *testing.T) {
	page, err := Action([]byte(`name: x
description: Does x.
inputs:
  zeta:
    description: Last letter.
    default: "z"
  alpha:
    description: First letter.
    required: true
outputs:
  count:
    description: How many.
`))
	require.NoError(t, err)
	text := string(page)
	assert.Contains(t, text, "- `zeta` (default `z`): Last letter.\n- `alpha` (required): First letter.\n")
	assert.Contains(t, text, "- `count`: How many.\n")
	_, err = Action([]byte("name: x\n"))
	assert.ErrorContains(t, err, "no inputs")
	_, err = Action([]byte("inputs: ["))
	assert.Error(t, err)
}

func TestAPIFieldsMarkersAndValues(t *testing.T) {
	page, err := API(filepath.Join("testdata", "api"))
	require.NoError(t, err)
	text := string(page)
	assert.Contains(t, text, "## WidgetSpec\n\nWidgetSpec is what a widget must do.\n")
	assert.Contains(t, text, "- `size` (int32, default `4`, minimum `1`, optional): Size is how big it is.\n")
	assert.Contains(t, text, "- `name` (string, required): Name names it.\n")
	assert.NotContains(t, text, "Hidden")
	assert.Contains(t, text, "The phases of a widget.\n\n- `New`\n- `Done`\n")
	_, err = API(t.TempDir())
	assert.ErrorContains(t, err, "no *_types.go files")
}
