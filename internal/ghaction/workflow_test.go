package ghaction

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/github"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext/runnertest"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func newTestWorkflow(t *testing.T, vars map[string]string) (*Workflow, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	wf := NewWorkflow(&out, env(vars))
	var n atomic.Int32
	wf.token = func() string { return strings.Repeat("ab", 15) + string(rune('0'+n.Add(1))) + "f" }
	return wf, &out
}

func TestFencedOutputCannotIssueCommands(t *testing.T) {
	tests := []struct {
		name, output string
	}{
		{"commands at line starts", "::error::boom\n::set-output name=x::y\n"},
		{"indented commands", "  ::add-mask::x\n\t::endgroup::\n"},
		{"a guessed fence", "::stop-commands::abc\n::abc::\n::error::after\n"},
		{"no trailing newline", "::error::last line"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf, out := newTestWorkflow(t, nil)
			wf.Fenced("❌ FAILED tests/test_x.py::test_y", tt.output)
			tok := strings.Repeat("ab", 15) + "1f"
			// The fence is a second guard: its lines are defused too.
			want := "::group::❌ FAILED tests/test_x.py::test_y\n::stop-commands::" + tok + "\n" + logtext.Lines(tt.output)
			if tt.output != "" && !strings.HasSuffix(tt.output, "\n") {
				want += "\n"
			}
			want += "::" + tok + "::\n::endgroup::\n"
			assert.Equal(t, want, out.String())
		})
	}
}

func TestFenceTokensAreRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := randomToken()
		assert.Len(t, tok, 32)
		assert.False(t, seen[tok])
		seen[tok] = true
	}
}

func TestAnnotateEscapes(t *testing.T) {
	tests := []struct {
		name string
		an   github.Annotation
		want string
	}{
		{
			name: "failure with location",
			an:   github.Annotation{Path: "pkg/tests/test_a.py", StartLine: 10, Title: "FAILED tests/test_a.py::test_b", Message: "assert 1 == 3\n::set-output name=x::y"},
			want: "::error file=pkg/tests/test_a.py,line=10,title=FAILED tests/test_a.py%3A%3Atest_b::assert 1 == 3%0A::set-output name=x::y\n",
		},
		{
			name: "percent, carriage return, comma",
			an:   github.Annotation{Path: "a,b.py", StartLine: 2, EndLine: 4, Level: github.LevelWarning, Title: "50%, flaky", Message: "100%\r\ndone"},
			want: "::warning endLine=4,file=a%2Cb.py,line=2,title=50%25%2C flaky::100%25%0D%0Adone\n",
		},
		{
			name: "notice without location",
			an:   github.Annotation{Level: github.LevelNotice, Message: "note"},
			want: "::notice::note\n",
		},
		{
			name: "empty message takes the title",
			an:   github.Annotation{Path: "a.py", StartLine: 1, Title: "ERROR a.py::t"},
			want: "::error file=a.py,line=1,title=ERROR a.py%3A%3At::ERROR a.py::t\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf, out := newTestWorkflow(t, nil)
			wf.Annotate(tt.an)
			assert.Equal(t, tt.want, out.String())
		})
	}
}

// TestAnnotationsAreNeverFenced: an annotation written while another
// goroutine prints test output must come out whole, outside the fence.
func TestAnnotationsAreNeverFenced(t *testing.T) {
	wf, out := newTestWorkflow(t, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			wf.Fenced("t", strings.Repeat("output line\n", 20))
		}
	}()
	for range 50 {
		wf.Annotate(github.Annotation{Path: "a.py", StartLine: 1, Message: "m"})
		_, _ = wf.Log().Write([]byte("time=now level=INFO msg=x\n"))
	}
	<-done
	inFence := false
	annotations := 0
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "::stop-commands::"):
			inFence = true
		case inFence && strings.HasPrefix(line, "::abab"):
			inFence = false
		case strings.HasPrefix(line, "::error "):
			assert.False(t, inFence, "an annotation inside a fence")
			annotations++
		case strings.HasPrefix(line, "time="):
			assert.False(t, inFence, "a log line inside a fence")
		}
	}
	assert.Equal(t, 50, annotations)
}

func TestMask(t *testing.T) {
	tests := []struct {
		name, secret string
		want         string
	}{
		{"token", "ghs_abc123", "::add-mask::ghs_abc123\n"},
		{"empty", "  ", ""},
		{"key: whole and each line but the armour", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\nAwEHoUQD\n-----END EC PRIVATE KEY-----\n",
			"::add-mask::-----BEGIN EC PRIVATE KEY-----%0AMHcCAQEE%0AAwEHoUQD%0A-----END EC PRIVATE KEY-----\n::add-mask::MHcCAQEE\n::add-mask::AwEHoUQD\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf, out := newTestWorkflow(t, nil)
			wf.Mask(tt.secret)
			assert.Equal(t, tt.want, out.String())
		})
	}
}

func TestGroupsDoNotNest(t *testing.T) {
	wf, out := newTestWorkflow(t, nil)
	wf.Group("Building")
	wf.Group("Discovering")
	wf.Fenced("test", "x\n")
	wf.EndGroup()
	wf.EndGroup()
	tok := strings.Repeat("ab", 15) + "1f"
	assert.Equal(t, "::group::Building\n::endgroup::\n::group::Discovering\n::endgroup::\n"+
		"::group::test\n::stop-commands::"+tok+"\nx\n::"+tok+"::\n::endgroup::\n", out.String())
}

func TestOutputsAndSummaryFiles(t *testing.T) {
	dir := t.TempDir()
	outPath, sumPath := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	wf, log := newTestWorkflow(t, map[string]string{"GITHUB_OUTPUT": outPath, "GITHUB_STEP_SUMMARY": sumPath})
	require.NoError(t, wf.SetOutputs([]Output{{"total", "12"}, {"check_url", ""}}))
	require.NoError(t, wf.AddSummary("### hello\n"))
	assert.Empty(t, log.String(), "nothing goes to the log")

	b, err := os.ReadFile(outPath)
	require.NoError(t, err)
	assert.Regexp(t, `^total<<(\S+)\n12\n(\S+)\ncheck_url<<(\S+)\n\n(\S+)\n$`, string(b))
	b, err = os.ReadFile(sumPath)
	require.NoError(t, err)
	assert.Equal(t, "### hello\n\n", string(b))
}

func TestOutputsWithoutTheRunnersFiles(t *testing.T) {
	wf, _ := newTestWorkflow(t, nil)
	assert.ErrorContains(t, wf.SetOutputs([]Output{{"total", "1"}}), "GITHUB_OUTPUT is not set")
	assert.ErrorContains(t, wf.AddSummary("x"), "GITHUB_STEP_SUMMARY is not set")

	wf, _ = newTestWorkflow(t, map[string]string{"GITHUB_OUTPUT": filepath.Join(t.TempDir(), "missing", "output")})
	assert.Error(t, wf.SetOutputs([]Output{{"total", "1"}}), "an unwritable file is an error, not a panic")
}

// runnerOutputs reads a GITHUB_OUTPUT file as the runner does
// (FileCommandManager's EnvFileKeyValuePairs): NAME=VALUE lines, and
// NAME<<DELIMITER entries that end at a line equal to DELIMITER.
func runnerOutputs(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		eq, hd := strings.Index(l, "="), strings.Index(l, "<<")
		if eq >= 0 && (hd < 0 || eq < hd) {
			out[l[:eq]] = l[eq+1:]
			continue
		}
		require.GreaterOrEqual(t, hd, 1, "line %q", l)
		name, delim := l[:hd], l[hd+2:]
		var value []string
		for i++; ; i++ {
			require.Less(t, i, len(lines), "no delimiter %q", delim)
			if lines[i] == delim {
				break
			}
			value = append(value, lines[i])
		}
		out[name] = strings.Join(value, "\n")
	}
	return out
}

// TestOutputValueCannotAddOutputs: a value that holds go-githubactions'
// fixed delimiter, or any guess at one, stays one value; the delimiter is
// random per entry.
func TestOutputValueCannotAddOutputs(t *testing.T) {
	hostile := "ok\n_GitHubActionsFileCommandDelimeter_\npwned<<X\nyes\nX\nghadelimiter_\nEOF"
	outPath := filepath.Join(t.TempDir(), "output")
	wf := NewWorkflow(&bytes.Buffer{}, env(map[string]string{"GITHUB_OUTPUT": outPath}))
	require.NoError(t, wf.SetOutputs([]Output{{"total", "3"}, {"junit_path", hostile}, {"check_url", ""}}))
	b, err := os.ReadFile(outPath)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"total": "3", "junit_path": hostile, "check_url": ""}, runnerOutputs(t, string(b)))

	delims := regexp.MustCompile(`(?m)^(?:total|junit_path|check_url)<<(\S+)$`).FindAllStringSubmatch(string(b), -1)
	require.Len(t, delims, 3)
	assert.NotEqual(t, delims[0][1], delims[1][1], "a fresh delimiter per entry")
}

func TestOutputHoldingItsDelimiterIsRefused(t *testing.T) {
	outPath := filepath.Join(t.TempDir(), "output")
	wf, _ := newTestWorkflow(t, map[string]string{"GITHUB_OUTPUT": outPath})
	tok := strings.Repeat("ab", 15) + "1f"
	assert.ErrorContains(t, wf.SetOutputs([]Output{{"total", "x\nghadelimiter_" + tok + "\nevil<<Y"}}), "holds its delimiter")
	assert.NoFileExists(t, outPath, "nothing is written")
	assert.Error(t, wf.SetOutputs([]Output{{"a\nb", "1"}}))
}

// TestWorkflowLogHasNoUntrustedCommand: test IDs in group titles, failure
// text in annotations and log lines from slog, all carrying commands, give
// the runner only the commands the workflow issued, and no line outside
// them has a command's syntax.
func TestWorkflowLogHasNoUntrustedCommand(t *testing.T) {
	const id = "tests/t.py::test[##[warning]PWNED]"
	for _, verbose := range []bool{false, true} {
		wf, out := newTestWorkflow(t, nil)
		wf.Mask("hunter2-secret")
		wf.Group("Building")
		level := slog.LevelInfo
		if verbose {
			level = slog.LevelDebug
		}
		log := slog.New(slog.NewTextHandler(wf.Log(), &slog.HandlerOptions{Level: level}))
		log.Debug("pip", "output", "Collecting x\n::warning::PWNED\n##[error]PWNED")
		log.Warn("coverage data file ##[warning title=x]PWNED is not coverage", "file", ".coverage.##[warning]PWNED")
		log.Info("##[add-mask]PWNED", "test", id)
		wf.Fenced("❌ FAILED "+id, "::error::PWNED\n##[error]PWNED")
		wf.Annotate(github.Annotation{Path: "tests/t.py", StartLine: 1, Title: "FAILED " + id, Message: "assert ##[error]PWNED"})
		wf.Warning("k8s-testrun: ##[warning]PWNED")
		wf.EndGroup()

		var issued int
		for _, l := range runnertest.Lines(out.String()) {
			if !runnertest.LooksLikeCommand(l) {
				continue
			}
			issued++
			assert.True(t, strings.HasPrefix(l, "::"), "line %q", l)
			assert.NotContains(t, l, "##[", "line %q carries a legacy command", l)
		}
		var names []string
		for _, c := range runnertest.Commands(out.String()) {
			assert.False(t, c.Legacy, "%q", c.Line)
			names = append(names, c.Name)
		}
		tok := strings.Repeat("ab", 15) + "1f"
		assert.Equal(t, []string{"add-mask", "group", "endgroup", "group", "stop-commands", tok, "endgroup", "error", "warning"}, names)
		assert.Equal(t, len(names), issued, "every line with a command's syntax is a command the workflow issued")
		assert.Equal(t, verbose, strings.Contains(out.String(), "Collecting x"))
		assert.Contains(t, out.String(), `##\[warning]PWNED`, "still readable")
	}
}
