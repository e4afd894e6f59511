package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/k8s-testrun/k8s-testrun/internal/app"
	"github.com/k8s-testrun/k8s-testrun/internal/docgen"
)

var root = filepath.Join("..", "..")

// TestGeneratedPagesAreCurrent regenerates every generated page in memory
// and fails when the committed file differs.
func TestGeneratedPagesAreCurrent(t *testing.T) {
	ps, err := pages(root)
	require.NoError(t, err)
	require.Len(t, ps, 3)
	for path, want := range ps {
		have, err := os.ReadFile(filepath.Join(root, path))
		require.NoError(t, err, "%s is missing: run make docs", path)
		if !bytes.Equal(have, want) {
			t.Errorf("%s differs from what the code generates: run make docs", path)
		}
	}
}

// TestCLIPageNamesEveryFlag: the generated command line page holds every
// command people type and every flag of each, with its usage.
func TestCLIPageNamesEveryFlag(t *testing.T) {
	page := string(docgen.CLI(app.CommandTree()))
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		_, section, ok := strings.Cut(page, "\n## "+c.CommandPath()+"\n")
		require.True(t, ok, "a section for %s", c.CommandPath())
		section, _, _ = strings.Cut(section, "\n## ")
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			n++
			assert.Contains(t, section, "`--"+f.Name+"`", c.CommandPath())
			_, usage := pflag.UnquoteUsage(f)
			assert.Contains(t, section, strings.Join(strings.Fields(usage), " "), "%s --%s", c.CommandPath(), f.Name)
		})
		for _, k := range c.Commands() {
			walk(k)
		}
	}
	walk(app.CommandTree())
	assert.Greater(t, n, 40, "the flags of run, gc and install were seen")
}

// TestActionPageNamesEveryInput: every input and output of action.yml,
// with its default, is on the generated page.
func TestActionPageNamesEveryInput(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	require.NoError(t, err)
	spec, err := docgen.ParseAction(b)
	require.NoError(t, err)
	page, err := docgen.Action(b)
	require.NoError(t, err)
	require.Contains(t, spec.Inputs, docgen.ActionInput{Name: "parallelism", Description: "How many test pods run at once.", Default: "4"})
	for _, in := range spec.Inputs {
		line := "- `" + in.Name + "`"
		if in.Default != "" {
			line += " (default `" + in.Default + "`)"
		}
		assert.Contains(t, string(page), line+": ")
	}
	for _, out := range spec.Outputs {
		assert.Contains(t, string(page), "- `"+out.Name+"`: ")
	}
}

// TestAPIPageNamesEveryField: every JSON field of the API's spec and
// status types is on the generated page, with its default.
func TestAPIPageNamesEveryField(t *testing.T) {
	page, err := docgen.API(filepath.Join(root, "api", "v1alpha1"))
	require.NoError(t, err)
	text := string(page)
	for _, want := range []string{
		"## TestRunSpec", "## TestRunStatus", "## TestCaseSpec", "## TestCaseStatus",
		"- `parallelism` (int32, default `4`, minimum `1`",
		"- `image` (string, ",
		"- `Succeeded`",
	} {
		assert.Contains(t, text, want)
	}
	src, err := os.ReadFile(filepath.Join(root, "api", "v1alpha1", "testrun_types.go"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile("json:\"([a-zA-Z]+)[,\"]").FindAllStringSubmatch(string(src), -1) {
		assert.Contains(t, text, "- `"+m[1]+"` (", "field %s", m[1])
	}
}

// markdownFiles are the pages a reader sees: the README, the project's
// basics and every page under docs/.
func markdownFiles(t *testing.T) []string {
	files := []string{"README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(docs), 12, "the docs/ pages")
	for _, d := range docs {
		files = append(files, filepath.Join("docs", filepath.Base(d)))
	}
	return files
}

func readFile(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join(root, name))
	require.NoError(t, err)
	return string(b)
}

// fence is a fenced block of a Markdown file.
type fence struct {
	lang, body string
	start, end int // 1-based lines of the opening and closing fences
}

func fences(text string) []fence {
	var out []fence
	var cur *fence
	var body []string
	for i, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "```") {
			if cur != nil {
				body = append(body, l)
			}
			continue
		}
		if cur == nil {
			cur = &fence{lang: strings.TrimPrefix(l, "```"), start: i + 1}
			body = nil
			continue
		}
		cur.body, cur.end = strings.Join(body, "\n")+"\n", i+1
		out = append(out, *cur)
		cur = nil
	}
	return out
}

// TestREADMEShape: the README is short, user first: the Action's quick
// start within its first 60 lines, a Mermaid picture of the flow, a
// compatibility table, and the two development commands.
func TestREADMEShape(t *testing.T) {
	text := readFile(t, "README.md")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	assert.LessOrEqual(t, len(lines), 250, "README.md lines")

	var mermaid, quick *fence
	for _, f := range fences(text) {
		if f.lang == "mermaid" && mermaid == nil {
			mermaid = &f
		}
		if f.lang == "yaml" && strings.Contains(f.body, "uses: k8s-testrun/k8s-testrun@") && quick == nil {
			quick = &f
		}
	}
	require.NotNil(t, mermaid, "a Mermaid block")
	assert.Contains(t, mermaid.body, "flowchart")
	for _, step := range []string{"build", "discover", "collector", "report", "check run"} {
		assert.Contains(t, mermaid.body, step, "the picture shows %s", step)
	}
	require.NotNil(t, quick, "a workflow that uses the action")
	assert.LessOrEqual(t, quick.end, 60, "the Action quick start ends within the first 60 lines")
	assert.Contains(t, quick.body, "helm/kind-action@", "the quick start runs kind")
	heading := strings.Index(text, "\n## Quick start: the GitHub Action")
	require.GreaterOrEqual(t, heading, 0)
	assert.Less(t, strings.Count(text[:heading], "\n"), quick.start)

	_, compat, ok := strings.Cut(text, "\n## Compatibility\n")
	require.True(t, ok, "a Compatibility section")
	compat, _, _ = strings.Cut(compat, "\n## ")
	for _, row := range []string{"| Kubernetes |", "| Native sidecars |", "| Python |", "| pytest |", "| Platforms |"} {
		assert.Contains(t, compat, row)
	}

	_, dev, ok := strings.Cut(text, "\n## Development\n")
	require.True(t, ok, "a Development section")
	assert.Contains(t, dev, "make demo ")
	assert.Contains(t, dev, "make test ")
}

// TestTwoCommandsStayTrue: the README's two development commands are the
// Makefile's targets, `make test` runs the unit and end-to-end tests, and
// CI (.ci/run) runs `make test`.
func TestTwoCommandsStayTrue(t *testing.T) {
	targets := makeTargets(t)
	test := strings.Fields(targets["test"])
	assert.Contains(t, test, "unit", "make test runs the unit tests")
	assert.Contains(t, test, "e2e", "make test runs the end-to-end tests")
	assert.Contains(t, targets, "demo")
	assert.Regexp(t, `(?m)^\s*make test\b`, readFile(t, ".ci/run"))
}

// makeTargets maps each Makefile target to its prerequisites.
func makeTargets(t *testing.T) map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`^([a-z][a-z0-9-]*):(?:\s+(.*))?$`)
	sc := bufio.NewScanner(strings.NewReader(readFile(t, "Makefile")))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return out
}

// TestNoLongTables: no Markdown table of the README or the docs has more
// than 15 rows; long ones are split by topic.
func TestNoLongTables(t *testing.T) {
	for _, name := range markdownFiles(t) {
		rows, fenced, start := 0, false, 0
		for i, l := range strings.Split(readFile(t, name)+"\n", "\n") {
			if strings.HasPrefix(l, "```") {
				fenced = !fenced
			}
			cell := strings.HasPrefix(strings.TrimPrefix(l, "> "), "|") && !fenced
			switch {
			case cell && rows == 0:
				rows, start = 1, i+1
			case cell:
				rows++
			default:
				// header and separator are not rows
				assert.LessOrEqual(t, rows-2, 15, "%s:%d: a table of %d rows", name, start, rows-2)
				rows = 0
			}
		}
	}
}

// actionStep is a workflow step that may use the action.
type actionStep struct {
	ID   string            `json:"id"`
	Uses string            `json:"uses"`
	Run  string            `json:"run"`
	With map[string]any    `json:"with"`
	Env  map[string]string `json:"env"`
}

// TestWorkflowExamplesUseRealInputs parses every workflow snippet of the
// README and the docs and checks each step that uses the action against
// action.yml: every `with:` key is an input, every output a later step
// reads exists. The README's quick start is a whole workflow that works as
// is: kind's kubeconfig is written where the action's env says.
func TestWorkflowExamplesUseRealInputs(t *testing.T) {
	spec, err := docgen.ParseAction([]byte(readFile(t, "action.yml")))
	require.NoError(t, err)
	inputs, outputs := map[string]bool{}, map[string]bool{}
	for _, in := range spec.Inputs {
		inputs[in.Name] = true
	}
	for _, out := range spec.Outputs {
		outputs[out.Name] = true
	}
	checked := 0
	outputRef := regexp.MustCompile(`steps\.([a-z_-]+)\.outputs\.([a-z_]+)`)
	for _, name := range markdownFiles(t) {
		for _, f := range fences(readFile(t, name)) {
			if f.lang != "yaml" || !strings.Contains(f.body, "k8s-testrun/k8s-testrun@") {
				continue
			}
			steps := workflowSteps(t, name, f)
			ids := map[string]bool{}
			for _, s := range steps {
				if !strings.HasPrefix(s.Uses, "k8s-testrun/k8s-testrun@") {
					continue
				}
				checked++
				ids[s.ID] = true
				for k := range s.With {
					assert.True(t, inputs[k], "%s:%d: input %q is not in action.yml", name, f.start, k)
				}
			}
			for _, m := range outputRef.FindAllStringSubmatch(f.body, -1) {
				if ids[m[1]] {
					assert.True(t, outputs[m[2]], "%s:%d: output %q is not in action.yml", name, f.start, m[2])
				}
			}
			if name == "README.md" && strings.Contains(f.body, "helm/kind-action@") {
				checkQuickStart(t, steps)
			}
		}
	}
	assert.GreaterOrEqual(t, checked, 4, "the workflow examples were found")
}

// workflowSteps reads the steps of a snippet: a whole workflow, or a list
// of steps.
func workflowSteps(t *testing.T, name string, f fence) []actionStep {
	var w struct {
		Jobs map[string]struct {
			Steps []actionStep `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(f.body), &w); err == nil && len(w.Jobs) > 0 {
		var steps []actionStep
		for _, j := range w.Jobs {
			steps = append(steps, j.Steps...)
		}
		return steps
	}
	var steps []actionStep
	require.NoError(t, yaml.Unmarshal([]byte(f.body), &steps), "%s:%d: a workflow or a list of steps", name, f.start)
	return steps
}

// checkQuickStart: the README's workflow is the one the e2e-kind workflow
// runs (same pinned actions, same kubeconfig step), with the published
// action in place of `uses: ./`.
func checkQuickStart(t *testing.T, steps []actionStep) {
	tested := readFile(t, filepath.Join(".github", "workflows", "e2e-kind.yml"))
	for _, s := range steps {
		if s.Uses != "" && !strings.HasPrefix(s.Uses, "k8s-testrun/k8s-testrun@") {
			assert.Contains(t, tested, "uses: "+s.Uses, "the quick start's %s is the tested one", s.Uses)
		}
		if s.Run != "" {
			assert.Contains(t, tested, "run: "+strings.TrimSpace(s.Run), "the quick start's step is the tested one")
		}
	}
	var kubeconfig string
	for _, s := range steps {
		if _, file, ok := strings.Cut(s.Run, "kind get kubeconfig"); ok {
			_, file, _ = strings.Cut(file, ">")
			kubeconfig = strings.TrimSpace(file)
		}
		if strings.HasPrefix(s.Uses, "k8s-testrun/k8s-testrun@") {
			require.NotEmpty(t, kubeconfig, "kind's kubeconfig is written before the action runs")
			assert.Equal(t, kubeconfig, s.Env["KUBECONFIG"], "the action reads the kubeconfig kind wrote")
		}
		if strings.HasPrefix(s.Uses, "helm/kind-action@") {
			assert.Equal(t, true, s.With["registry"], "kind with its registry")
		}
	}
}

// TestCommandExamplesParse parses every k8s-testrun command line shown in
// a sh or console block of the README and the docs with the real command
// tree's flags, without running it: an unknown command or flag, or a
// value a flag cannot take, fails. `make` lines must name a target.
func TestCommandExamplesParse(t *testing.T) {
	targets := makeTargets(t)
	n := 0
	for _, name := range markdownFiles(t) {
		for _, f := range fences(readFile(t, name)) {
			if f.lang != "sh" && f.lang != "console" {
				continue
			}
			for _, line := range commandLines(f.body) {
				words, err := splitWords(line)
				require.NoError(t, err, "%s:%d: %s", name, f.start, line)
				if len(words) == 0 {
					continue
				}
				switch {
				case words[0] == "make" && len(words) > 1:
					assert.Contains(t, targets, words[1], "%s:%d: make %s", name, f.start, words[1])
				case filepath.Base(words[0]) == "k8s-testrun":
					n++
					assert.NoError(t, parseCommandLine(words[1:]), "%s:%d: %s", name, f.start, line)
				}
			}
		}
	}
	assert.GreaterOrEqual(t, n, 5, "command lines were found")
}

// commandLines joins continued lines, drops a console's "$ " prompt and
// output, and cuts comments.
func commandLines(body string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "$ "); ok {
			l = rest
		}
		if cur == "" && strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.Index(l, " #"); i >= 0 && !strings.ContainsAny(l[:i], `"'`) {
			l = strings.TrimSpace(l[:i])
		}
		if strings.HasSuffix(l, `\`) {
			cur += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		out = append(out, cur+l)
		cur = ""
	}
	return out
}

// parseCommandLine finds the command the words name and parses its flags,
// as cobra would before running it.
func parseCommandLine(args []string) error {
	root := app.CommandTree()
	root.InitDefaultCompletionCmd()
	if len(args) > 0 && args[0] == "--version" {
		return nil
	}
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root {
		return fmt.Errorf("no command in %q", args)
	}
	if cmd.DisableFlagParsing {
		return nil
	}
	return cmd.ParseFlags(rest)
}

// splitWords splits a shell line into words: quotes group, nothing is
// expanded; a redirection or a pipe ends the command.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case (r == '>' || r == '|' || r == '<' || r == ';') && !in:
			return words, nil
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c quote", quote)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestCommandExamplesCatchBadFlags: the example check fails on a flag the
// command does not have, and on a value the flag cannot take.
func TestCommandExamplesCatchBadFlags(t *testing.T) {
	assert.NoError(t, parseCommandLine([]string{"run", "-p", "8", "--timeout", "5m", ".", "--", "-m", "not slow"}))
	assert.Error(t, parseCommandLine([]string{"run", "--paralelism", "8", "."}))
	assert.Error(t, parseCommandLine([]string{"run", "--timeout", "five", "."}))
	assert.Error(t, parseCommandLine([]string{"versoin"}))
	words, err := splitWords(`k8s-testrun run --faketime "2031-06-01 12:00:00" . > events.jsonl`)
	require.NoError(t, err)
	assert.Equal(t, []string{"k8s-testrun", "run", "--faketime", "2031-06-01 12:00:00", "."}, words)
}

// TestArchitectureListsEveryPackage holds docs/architecture.md's layout to
// the tree: every directory directly under internal/, cmd/, hack/, api/,
// test/ and bench/ that holds Go files (and bench/ itself) is listed, and
// nothing listed is gone.
func TestArchitectureListsEveryPackage(t *testing.T) {
	actual := map[string]bool{}
	for _, top := range []string{"internal", "cmd", "hack", "api", "test", "bench"} {
		if hasGo(t, filepath.Join(root, top), false) {
			actual[top] = true
		}
		entries, err := os.ReadDir(filepath.Join(root, top))
		require.NoError(t, err)
		for _, e := range entries {
			if e.IsDir() && hasGo(t, filepath.Join(root, top, e.Name()), true) {
				actual[top+"/"+e.Name()] = true
			}
		}
	}
	require.Contains(t, actual, "internal/app", "the tree was read")
	text := readFile(t, filepath.Join("docs", "architecture.md"))
	_, layout, ok := strings.Cut(text, "\n## Layout\n")
	require.True(t, ok, "docs/architecture.md has a Layout section")
	layout, _, _ = strings.Cut(layout, "\n## ")
	documented := map[string]bool{}
	item := regexp.MustCompile("(?m)^- `([a-z0-9/-]+)`")
	for _, m := range item.FindAllStringSubmatch(layout, -1) {
		documented[m[1]] = true
	}
	for _, m := range regexp.MustCompile("(?m)^- (`[a-z0-9/-]+`(?:, `[a-z0-9/-]+`)+):").FindAllStringSubmatch(layout, -1) {
		for _, p := range regexp.MustCompile("`([a-z0-9/-]+)`").FindAllStringSubmatch(m[1], -1) {
			documented[p[1]] = true
		}
	}
	assert.Empty(t, keysNotIn(actual, documented), "packages missing from docs/architecture.md's layout")
	assert.Empty(t, keysNotIn(documented, actual), "docs/architecture.md lists packages the tree does not have")
}

func hasGo(t *testing.T, dir string, deep bool) bool {
	found := false
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || found {
			return err
		}
		if d.IsDir() && path != dir && (!deep || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			found = true
		}
		return nil
	})
	require.NoError(t, err)
	return found
}

func keysNotIn(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestDocLinksResolve: every relative link of the README and the docs names
// a file that exists and, with a #fragment, a heading of that file.
func TestDocLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, name := range markdownFiles(t) {
		text := regexp.MustCompile("`[^`\n]*`").ReplaceAllString(readFile(t, name), "")
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			path := name
			if file != "" {
				path = filepath.Join(filepath.Dir(name), file)
				_, err := os.Stat(filepath.Join(root, path))
				if !assert.NoError(t, err, "%s links to %s", name, target) {
					continue
				}
			}
			if frag != "" {
				assert.Contains(t, anchors(readFile(t, path)), frag, "%s links to %s", name, target)
			}
		}
	}
}

// anchors are GitHub's anchors of a page's headings.
func anchors(text string) []string {
	var out []string
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, f := range strings.Split(text, "\n") {
		if !strings.HasPrefix(f, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(f, "#"))
		out = append(out, strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-"))
	}
	return out
}
