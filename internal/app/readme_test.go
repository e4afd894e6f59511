package app

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docPage returns the text of a page under docs/.
func docPage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	require.NoError(t, err)
	return string(b)
}

// tableRows returns the rows of every Markdown table of text whose header
// is header: the guides split a long table into tables of a topic each.
func tableRows(text, header string) []string {
	var rows []string
	for {
		i := strings.Index(text, header)
		if i < 0 {
			return rows
		}
		text = text[i:]
		lines := strings.Split(text, "\n")
		n := 2
		for ; n < len(lines) && strings.HasPrefix(lines[n], "|"); n++ {
			rows = append(rows, lines[n])
		}
		text = strings.Join(lines[n:], "\n")
	}
}

// readmeRunFlags returns the flags the first column of the run flag tables
// of docs/running.md names, as written ("--parallelism", "-p").
func readmeRunFlags(t *testing.T) []string {
	t.Helper()
	text := docPage(t, "running.md")
	start := strings.Index(text, "\n## The command line\n")
	require.GreaterOrEqual(t, start, 0, "docs/running.md has a command line section")
	text = text[start+1:]
	rows := tableRows(text, "| flag | default | meaning |")
	require.NotEmpty(t, rows, "the command line section has flag tables")
	var flags []string
	token := regexp.MustCompile("`(--?[a-z][a-z0-9-]*)`")
	for _, line := range rows {
		cells := strings.Split(line, "|")
		require.GreaterOrEqual(t, len(cells), 4, "row %q", line)
		for _, m := range token.FindAllStringSubmatch(cells[1], -1) {
			flags = append(flags, m[1])
		}
	}
	require.NotEmpty(t, flags)
	return flags
}

// TestREADMEDocumentsEveryRunFlag holds the flag tables of docs/running.md
// (the README's flag table before the docs/ pages) to the run
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
	assert.Empty(t, missing(actual, documented), "flags of `k8s-testrun run` missing from docs/running.md's flag tables")
	assert.Empty(t, missing(documented, actual), "docs/running.md's flag tables name flags `k8s-testrun run` does not have")
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

// badInputRow is a row of the tables of bad inputs.
type badInputRow struct{ input, says, testedBy string }

// readmeBadInputs returns the rows of every "Bad input" table of
// docs/troubleshooting.md (the README's one table before the docs/ pages).
func readmeBadInputs(t *testing.T) []badInputRow {
	t.Helper()
	text := docPage(t, "troubleshooting.md")
	require.Contains(t, text, "| bad input | what k8s-testrun says | tested by |", "docs/troubleshooting.md has tables of bad inputs")
	code := regexp.MustCompile("^`(.*)`$")
	unquote := func(cell string) string {
		cell = strings.TrimSpace(cell)
		if m := code.FindStringSubmatch(cell); m != nil {
			return m[1]
		}
		return cell
	}
	var rows []badInputRow
	for _, line := range tableRows(text, "| bad input | what k8s-testrun says | tested by |") {
		// A cell holds no "|" of its own.
		cells := strings.Split(strings.Trim(line, "|"), "|")
		require.Len(t, cells, 3, "row %q", line)
		rows = append(rows, badInputRow{unquote(cells[0]), unquote(cells[1]), unquote(cells[2])})
	}
	return rows
}

// TestREADMEBadInputs runs every row of the tables of bad inputs in
// docs/troubleshooting.md
// that the table itself tests: the run ends with exit code 2 and one line
// that holds the row's text, before any cluster is reached. A row tested
// elsewhere names a test whose source holds the row's text.
func TestREADMEBadInputs(t *testing.T) {
	rows := readmeBadInputs(t)
	assert.GreaterOrEqual(t, len(rows), 40, "at least 40 distinct bad inputs")
	seen := map[string]bool{}
	for _, r := range rows {
		assert.False(t, seen[r.input], "%s is listed twice", r.input)
		seen[r.input] = true
		t.Run(r.input, func(t *testing.T) {
			switch {
			case r.testedBy != "this table":
				assertTestHolds(t, r.testedBy, r.says)
			case strings.HasPrefix(r.input, "action: "):
				runBadActionInput(t, strings.TrimPrefix(r.input, "action: "), r.says)
			default:
				runBadCommandLine(t, r.input, r.says)
			}
		})
	}
}

func runBadCommandLine(t *testing.T, input, says string) {
	dir := t.TempDir()
	project := filepath.Join(dir, "project")
	require.NoError(t, os.MkdirAll(filepath.Join(project, "tests"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(project, "tests", "test_a.py"), []byte("def test_a():\n    pass\n"), 0o644))
	garbage := filepath.Join(dir, "garbage.yaml")
	require.NoError(t, os.WriteFile(garbage, []byte("garbage: ["), 0o644))
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: "t"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600))
	var args []string
	for _, a := range strings.Fields(input) {
		switch a {
		case "PROJECT":
			a = project
		case "GARBAGE":
			a = garbage
		case "KUBECONFIG":
			a = kubeconfig
		case `""`:
			a = ""
		}
		args = append(args, a)
	}
	env, stdout, stderr := testEnv(map[string]string{"HOME": dir})
	assert.Equal(t, ExitInfra, Run(context.Background(), args, env))
	out := stderr.String()
	assert.Equal(t, 1, strings.Count(out, "\n"), "one line:\n%s", out)
	assert.True(t, strings.HasPrefix(out, "k8s-testrun: "), out)
	assert.Contains(t, strings.ReplaceAll(out, dir+"/", ""), says)
	assert.Empty(t, stdout.String())
}

func runBadActionInput(t *testing.T, input, says string) {
	name, value, ok := strings.Cut(input, "=")
	require.True(t, ok, "action: NAME=VALUE")
	if strings.HasPrefix(value, `"`) {
		var err error
		value, err = strconv.Unquote(value)
		require.NoError(t, err, "a quoted value is a Go string")
	}
	api, srv := newGitHubAPI(t, 0)
	vars, _, _ := actionVars(t, srv.URL, map[string]string{name: value, "fail_on": "never"})
	if name == "fail_on" {
		vars["INPUT_FAIL_ON"] = value
	}
	env, stdout, stderr := testEnv(vars)
	assert.Equal(t, ExitInfra, Run(context.Background(), nil, env), "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	var errs []string
	for _, l := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(l, "::error::") {
			errs = append(errs, l)
		}
	}
	require.Len(t, errs, 1, "one error line:\n%s", stdout)
	assert.Contains(t, errs[0], says)
	assert.Empty(t, api.paths, "nothing was tested, so no check run")
}

// assertTestHolds checks that a test function of that name exists in the
// module and that its file holds text.
func assertTestHolds(t *testing.T, name, text string) {
	decl := "func " + name + "(t *testing.T)"
	found := false
	err := filepath.WalkDir(filepath.Join("..", ".."), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(b), decl) {
			return err
		}
		found = true
		assert.Contains(t, string(b), text, "%s holds the row's text", path)
		return nil
	})
	require.NoError(t, err)
	assert.True(t, found, "no test %s in the module", name)
}
