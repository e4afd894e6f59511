package transport

import (
	"bytes"
	"encoding/xml"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileJUnit is pytest's JUnit file for a test that failed with an
// n-byte assertion message: the message in the attribute and again in the
// text, as pytest writes it.
func hostileJUnit(n int) []byte {
	msg := strings.Repeat("A", n)
	return []byte(`<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="1">` +
		`<testcase classname="tests.test_big" name="test_big" file="tests/test_big.py" line="3" time="0.1">` +
		`<failure message="AssertionError: ` + msg + `">def test_big():&#10;&gt;   assert False, "` + msg + `"</failure>` +
		`</testcase></testsuite></testsuites>`)
}

func xmlWellFormed(t *testing.T, data []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		require.NoError(t, err)
	}
}

// TestDecodeHostileBlock: a block of under 1 MiB that unpacks to 72 MiB
// (a 24 MiB failure message twice in junit.xml, 24 MiB of output) is kept
// to the limits, with notes of what was cut, and never held whole.
func TestDecodeHostileBlock(t *testing.T) {
	const big = 24 << 20
	files := []File{
		{Name: "junit.xml", Data: hostileJUnit(big)},
		{Name: "exitcode", Data: []byte("1\n")},
		{Name: "output.txt", Data: append(bytes.Repeat([]byte("E   AssertionError: AAAAAAAA\n"), big/29), "last words\n"...)},
	}
	payload, err := pack(files, -1)
	require.NoError(t, err)
	require.Less(t, len(payload), 1<<20, "highly compressible")
	log := frame(payload)
	files = nil
	runtime.GC()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := Decode(bytes.NewReader(log))
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes", allocated)
	assert.Less(t, allocated, uint64(24<<20), "the decoder allocated %d bytes for a block that unpacks to 72 MiB", allocated)

	m := byName(got)
	junit := m["junit.xml"].Data
	assert.LessOrEqual(t, len(junit), 2*DefaultXMLValue+1024)
	xmlWellFormed(t, junit)
	assert.Contains(t, string(junit), `AssertionError: AAAA`)
	cut := big + len("AssertionError: ") - DefaultXMLValue
	assert.Contains(t, string(junit), CutNote(int64(cut))+`"`, "the message ends with how much was cut")

	out := m["output.txt"].Data
	assert.LessOrEqual(t, len(out), DefaultOutput+100)
	assert.True(t, bytes.HasPrefix(out, []byte("[k8s-testrun cut the first ")), "%q", out[:80])
	assert.True(t, bytes.HasSuffix(out, []byte("last words\n")))

	notes := string(m[TruncatedFile].Data)
	assert.Contains(t, notes, "decoder cut the first ")
	assert.Contains(t, notes, "from junit.xml")
	assert.Equal(t, "1\n", string(m["exitcode"].Data))
}

func TestDecodeKeepsToTheExpansionFactor(t *testing.T) {
	var files []File
	for i := range 40 {
		files = append(files, File{Name: "artifacts/f" + strconv.Itoa(i), Data: bytes.Repeat([]byte{byte('a' + i%26)}, 1<<20)})
	}
	payload, err := pack(files, -1)
	require.NoError(t, err)
	got, err := DecodeLimits(bytes.NewReader(frame(payload)), Limits{Block: 1 << 20})
	require.NoError(t, err)
	total := 0
	kept := 0
	for _, f := range got {
		if f.Name != TruncatedFile {
			total += len(f.Data)
			kept++
		}
	}
	assert.LessOrEqual(t, total, ExpansionFactor<<20)
	assert.Equal(t, ExpansionFactor, kept)
	assert.Contains(t, string(byName(got)[TruncatedFile].Data), "decoder dropped artifacts/f39 (1048576 bytes")

	got, err = DecodeLimits(bytes.NewReader(frame(payload)), Limits{Block: 1 << 20, File: 1000})
	require.NoError(t, err)
	assert.Len(t, got, 1, "every file over the per-file limit is dropped")
}

func TestDecodeAppendsToTruncated(t *testing.T) {
	payload, err := pack([]File{
		{Name: TruncatedFile, Data: []byte("dropped artifacts/big (40000 bytes)")},
		{Name: "output.txt", Data: bytes.Repeat([]byte("x"), 5000)},
	}, -1)
	require.NoError(t, err)
	got, err := DecodeLimits(bytes.NewReader(frame(payload)), Limits{Output: 1000})
	require.NoError(t, err)
	assert.Equal(t, "dropped artifacts/big (40000 bytes)\ndecoder cut the first 4000 bytes of output.txt\n", string(byName(got)[TruncatedFile].Data))
	assert.Equal(t, "[k8s-testrun cut the first 4000 bytes of the output]\n"+strings.Repeat("x", 1000), string(byName(got)["output.txt"].Data))
}

func TestXMLCapper(t *testing.T) {
	tests := []struct {
		name, in, want string
		max            int64
	}{
		{"short values pass", `<a b="xy">text</a>`, `<a b="xy">text</a>`, 4},
		{"attribute cut", `<a b="abcdefgh" c='ij'>`, `<a b="abcd` + CutNote(4) + `" c='ij'>`, 4},
		{"text cut", `<a>abcdefgh</a>`, `<a>abcd` + CutNote(4) + `</a>`, 4},
		{"quotes and > in values", `<a b="x>y'z">it's "q" > r</a>`, `<a b="x>y'` + CutNote(1) + `">it's` + CutNote(8) + `</a>`, 4},
		{"an entity is never split", `<a>ab&amp;cdef</a>`, `<a>ab&amp;` + CutNote(4) + `</a>`, 4},
		{"a character is never split", "<a>abcé日本</a>", "<a>abcé" + CutNote(6) + "</a>", 4},
		{"unterminated value is closed with its note", `<a b="abcdefgh`, `<a b="abcd` + CutNote(4), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			x := newXMLCapper(&buf, tt.max)
			// Byte by byte: a cut must not depend on how writes fall.
			for i := range len(tt.in) {
				_, err := x.Write([]byte{tt.in[i]})
				require.NoError(t, err)
			}
			require.NoError(t, x.flush())
			assert.Equal(t, tt.want, buf.String())
		})
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 5}
	for _, s := range []string{"ab", "cdefg", "hi", "jklmnopqrstu"} {
		_, _ = tb.Write([]byte(s))
	}
	assert.Equal(t, "[k8s-testrun cut the first 16 bytes of the output]\nqrstu", string(tb.bytes()))
	tb = &tailBuffer{max: 5}
	_, _ = tb.Write([]byte("aé日本"))
	assert.Equal(t, "[k8s-testrun cut the first 6 bytes of the output]\n本", string(tb.bytes()), "starts at a whole character")
}

func TestTailKeepsTheEnd(t *testing.T) {
	tl := NewTail(8)
	for _, s := range []string{"abc", "defgh", "ijklmnopq", "rs"} {
		n, err := tl.Write([]byte(s))
		require.NoError(t, err)
		require.Equal(t, len(s), n)
	}
	assert.Equal(t, "lmnopqrs", tl.String())

	short := NewTail(8)
	_, _ = short.Write([]byte("ab"))
	assert.Equal(t, "ab", short.String())
}
