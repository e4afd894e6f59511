package logtext

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestIsCommand(t *testing.T) {
	for _, l := range []string{"::warning::x", "  ::x", "\u2003::x", "a ##[x]"} {
		assert.True(t, IsCommand(l), l)
	}
	for _, l := range []string{`\::x`, "a::b", ": :x", ""} {
		assert.False(t, IsCommand(l), l)
	}
}
