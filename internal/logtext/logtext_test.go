package logtext

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/logtext/runnertest"
)

// payload is what a hostile test or package prints: commands after a lone
// carriage return, after white space, and the legacy form.
const payload = "ok\r::warning::pwned\r::add-mask::secret\r::stop-commands::abc\r\n  \t::error::x\n\u00a0::notice::y\nsee ##[set-output name=a;]b"

func assertNoCommand(t *testing.T, out string) {
	t.Helper()
	for _, l := range SplitRunnerLines(out) {
		assert.False(t, IsCommand(l), "line %q would be a workflow command", l)
	}
}

func TestLine(t *testing.T) {
	got := Line(payload)
	assert.NotContains(t, got, "\r")
	assert.NotContains(t, got, "\n")
	assert.Equal(t, `ok; \::warning::pwned; \::add-mask::secret; \::stop-commands::abc;   `+"\t"+`\::error::x; `+"\u00a0"+`\::notice::y; see ##\[set-output name=a;]b`, got)
	assertNoCommand(t, got)
	assert.Equal(t, `\::x`, Line("::x"))
	assert.Equal(t, "a: b", Line("a: b"))
}

func TestLines(t *testing.T) {
	got := Lines(payload)
	assert.Equal(t, "ok\n\\::warning::pwned\n\\::add-mask::secret\n\\::stop-commands::abc\n  \t\\::error::x\n\u00a0\\::notice::y\nsee ##\\[set-output name=a;]b", got)
	assertNoCommand(t, got)
	assert.Equal(t, "plain\ntext\n", Lines("plain\r\ntext\n"))
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	n, err := fmt.Fprintf(NewWriter(&buf), "output:\n%s\n", payload)
	require.NoError(t, err)
	assert.Equal(t, len("output:\n")+len(payload)+1, n)
	assertNoCommand(t, buf.String())
	assert.Contains(t, buf.String(), `\::warning::pwned`)
}

// hostile are texts an untrusted test, package or file name carries.
var hostile = []string{
	payload,
	"::warning::x",
	"  ::error file=a::x\n",
	"\u3000\u00a0::notice::wide space",
	"a##[warning]b##[error]c",
	"###[warning]x",
	"#\n#[x] and ##\n[y]",
	".coverage.##[warning title=x]y",
	"pip: Successfully installed ##[add-mask]z\r::set-output name=a::b",
	"::",
	":",
	"\u00a0",
}

// TestWriterAcrossWrites: however the text is cut into writes, even a byte
// at a time, no line of it reaches the runner as a command, and the text
// reads as Lines defuses it whole.
func TestWriterAcrossWrites(t *testing.T) {
	for _, h := range hostile {
		for _, size := range []int{1, 2, 3, 5, len(h)} {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			for i := 0; i < len(h); i += size {
				_, err := w.Write([]byte(h[i:min(i+size, len(h))]))
				require.NoError(t, err)
			}
			require.NoError(t, w.Flush())
			for _, l := range runnertest.Lines(buf.String()) {
				assert.False(t, runnertest.LooksLikeCommand(l), "%q in writes of %d: line %q", h, size, l)
			}
			assert.Empty(t, runnertest.Commands(buf.String()))
			// Line ends stay as written (a terminal's status line redraws
			// itself after a "\r"); the lines are those Lines gives.
			assert.Equal(t, runnertest.Lines(Lines(h)), runnertest.Lines(buf.String()), "%q in writes of %d", h, size)
		}
	}
}

// TestWriterCommands: the action's own commands pass as they are, each on
// a line of its own, and no defused text rides on them.
func TestWriterCommands(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	cmds := w.Commands()
	_, _ = io.WriteString(cmds, "::group::Tests\n")
	_, _ = io.WriteString(w, "partial line ::warning::x ##[error]y")
	_, _ = io.WriteString(cmds, "::stop-commands::tok")
	_, _ = io.WriteString(w, "::warning::inside\n")
	_, _ = io.WriteString(cmds, "::tok::\n")
	_, _ = io.WriteString(w, ":")
	_, _ = io.WriteString(cmds, "::endgroup::\n")
	_, _ = io.WriteString(w, ":error::after")
	require.NoError(t, w.Flush())
	assert.Equal(t, "::group::Tests\npartial line ::warning::x ##\\[error]y\n::stop-commands::tok\n\\::warning::inside\n::tok::\n:\n::endgroup::\n:error::after", buf.String())
	var names []string
	for _, c := range runnertest.Commands(buf.String()) {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"group", "stop-commands", "tok", "endgroup"}, names)
}

func TestIsCommand(t *testing.T) {
	for _, l := range []string{"::warning::x", "  ::x", "\u2003::x", "a ##[x]"} {
		assert.True(t, IsCommand(l), l)
	}
	for _, l := range []string{`\::x`, "a::b", ": :x", ""} {
		assert.False(t, IsCommand(l), l)
	}
}
