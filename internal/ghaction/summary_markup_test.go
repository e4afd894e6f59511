package ghaction

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// injection is markup a hostile test, pod or API answer could send: a
// heading, an image, HTML, links and autolinks, a table, lists, a quote,
// fences and emphasis, each on a line of its own.
const injection = ")\n\n## Injected\n![p](https://evil.example/p.png)\n<img src=x onerror=alert(1)>\n" +
	"[link](https://evil.example) <https://evil.example> https://evil.example www.evil.example a@evil.example\n" +
	"| x | y |\n| - | - |\n---\n# h\n1. item\n- item\n+ item\n> quote\n===\n```\ncode\n~~~\n<!-- c -->\n**b** _i_ ~~s~~ `c`\r## cr"

// markupSummary is a summary whose every value from outside is word, or
// word with the injection after it when hostile.
func markupSummary(hostile bool) Summary {
	v := func(word string) string {
		if hostile {
			return word + injection
		}
		return word
	}
	file := "tests/" + v("t") + ".py"
	failed := junit.Testcase{Classname: "tests.t", Name: "test_x", File: v("tests/t.py"), Line: 3, Time: "0.5",
		Failure: &junit.Result{Message: v("assert 1 == 2"), Text: v("tests/t.py:4: AssertionError")}}
	flaky := junit.Testcase{Classname: "tests.t", Name: "test_f", File: file, Line: 9, Time: "1.5"}
	cases := []report.CaseResult{
		caseResult(file+"::"+v("test_x"), plan.Failed, failed, 1),
		caseResult(file+"::test_f", plan.Passed, flaky, 2),
	}
	cases[1].Flaky = true
	cases[0].Attempts[0].Outcome.Reason = v("OOMKilled")
	rep := report.NewReport("r", "img", "", time.Unix(0, 0), time.Minute, cases)
	tests := Tests(rep, v("pkg"))
	bases := []string{v("python:3.12"), v("python:3.13")}
	tests[0].Base = bases[0]
	other := tests[0]
	other.Base, other.Status = bases[1], junit.StatusPassed
	tests[1].Base = bases[0]
	tests[1].Disruptions = []report.Disruption{{Attempt: 1, Reason: v("Evicted"), Start: v("start"), End: v("end"), Pod: v("pod")}}
	tests = append(tests, other)
	// A quarantined failure: the entry's words are the project's.
	excused := tests[0]
	excused.Base, excused.Quarantined = bases[1], v("known bug")+" (until 2026-12-31, owner "+v("@a")+", "+v("https://evil.example/x")+")"
	tests = append(tests, excused)
	return Summary{
		Counts: rep.Counts(), Wall: rep.Wall, Tests: tests,
		CheckName: v("tests"), CheckURL: "https://github.example/o/r/runs/7" + v(""), Image: v("img"), JUnitPath: v("junit.xml"),
		Problem: v("pip says"), Notes: []string{v("a note")}, Lanes: []string{v("slow: 1")}, Bases: bases,
		Coverage: &coverage.Summary{Lines: 10, Covered: 5, Files: []coverage.File{{Name: v("pkg/m.py"), Lines: 10, Covered: 5}}},
		Context:  Context{Repository: "o/r", HeadSHA: "abc123", ServerURL: "https://github.example"},
	}
}

// markup counts the constructs of md that carry structure, links or HTML,
// as GitHub's flavour of markdown reads it, and lists its link targets.
func markup(t *testing.T, md string) (map[string]int, []string) {
	t.Helper()
	p := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()
	src := []byte(md)
	doc := p.Parse(text.NewReader(src))
	counts := map[string]int{}
	var targets []string
	require.NoError(t, ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading, *ast.Image, *ast.AutoLink, *ast.RawHTML, *ast.HTMLBlock, *ast.List, *ast.ListItem,
			*ast.Blockquote, *ast.ThematicBreak, *ast.FencedCodeBlock, *ast.CodeBlock, *ast.Emphasis,
			*extast.Table, *extast.TableRow, *extast.Strikethrough:
			counts[n.Kind().String()]++
		case *ast.Link:
			counts[n.Kind().String()]++
			targets = append(targets, string(n.Destination))
		}
		return ast.WalkContinue, nil
	}))
	return counts, targets
}

// TestSummaryMarkupIsTheSummarys: whatever the tests, the pods and the
// API send, the summary has the headings, links, images, HTML, tables,
// lists and quotes the code writes, no more, and every link leads where
// the code points it.
func TestSummaryMarkupIsTheSummarys(t *testing.T) {
	for _, limit := range []int{MaxJobSummary, 1 << 16} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			plain := markupSummary(false).Markdown(limit)
			hostile := markupSummary(true).Markdown(limit)
			require.Contains(t, hostile, "Injected", "the values are shown")
			want, _ := markup(t, plain)
			got, targets := markup(t, hostile)
			assert.Equal(t, want, got, "markdown:\n%s", hostile)
			require.NotEmpty(t, targets)
			for _, u := range targets {
				assert.Regexp(t, `^https://github\.example/o/r/(blob/abc123/|runs/7)[^\s()<>\[\]]*$`, u)
			}
		})
	}
}

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"registry r.example is unreachable": "registry r.example is unreachable",
		"## h":                              `\#\# h`,
		"  - item\n1. x\n10) y\n===":        "  \\- item\n1\\. x\n10\\) y\n\\===",
		"see https://x.example and www.y":   `see https\://x.example and www\.y`,
		"<b>a@b.c</b>":                      `&lt;b&gt;a\@b.c&lt;/b&gt;`,
		"a\rb":                              "a\nb",
	} {
		assert.Equal(t, want, escapeText(in), "%q", in)
	}
}

func TestLinkTarget(t *testing.T) {
	assert.Equal(t, "https://g.example/o/r/blob/s/a%20b%29%0A%23%23%20x.py#L3",
		linkTarget(Context{Repository: "o/r", HeadSHA: "s", ServerURL: "https://g.example"}.BlobURL("a b)\n## x.py", 3)))
	assert.Equal(t, "https://g.example/r/5%3Cx%3E", linkTarget("https://g.example/r/5<x>"))
	assert.Empty(t, linkTarget("javascript:alert(1)"))
	assert.False(t, strings.ContainsAny(linkTarget("https://x.example/é ("), " (é"))
}
