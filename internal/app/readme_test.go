package app

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeRunFlags returns the flags the first column of the README's run
// flag table names, as written ("--parallelism", "-p").
func readmeRunFlags(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	text := string(b)
	start := strings.Index(text, "\n## The command line\n")
	require.GreaterOrEqual(t, start, 0, "README has a command line section")
	text = text[start+1:]
	table := strings.Index(text, "| flag | default | meaning |")
	require.GreaterOrEqual(t, table, 0, "the command line section has a flag table")
	var flags []string
	token := regexp.MustCompile("`(--?[a-z][a-z0-9-]*)`")
	for _, line := range strings.Split(text[table:], "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		require.GreaterOrEqual(t, len(cells), 4, "row %q", line)
		for _, m := range token.FindAllStringSubmatch(cells[1], -1) {
			flags = append(flags, m[1])
		}
	}
	require.NotEmpty(t, flags)
	return flags
}

// TestREADMEDocumentsEveryRunFlag holds the README's flag table to the run
// command's own flags: every flag is documented, with its short form, and
// no row names a flag the command does not have.
func TestREADMEDocumentsEveryRunFlag(t *testing.T) {
	documented := map[string]bool{}
	for _, f := range readmeRunFlags(t) {
		assert.False(t, documented[f], "%s is documented twice", f)
		documented[f] = true
	}
	run, _, err := newRootCommand(Env{Getenv: func(string) string { return "" }}).Find([]string{"run"})
	require.NoError(t, err)
	actual := map[string]bool{}
	run.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || f.Hidden {
			return
		}
		actual["--"+f.Name] = true
		if f.Shorthand != "" {
			actual["-"+f.Shorthand] = true
		}
	})
	require.Contains(t, actual, "--parallelism", "the run command's flags were read")
	assert.Empty(t, missing(actual, documented), "flags of `k8s-testrun run` missing from README.md's flag table")
	assert.Empty(t, missing(documented, actual), "README.md's flag table names flags `k8s-testrun run` does not have")
}

// missing lists the keys of want that have lacks.
func missing(want, have map[string]bool) []string {
	var out []string
	for k := range want {
		if !have[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
