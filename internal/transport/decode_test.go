package transport

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func oneFile(data string) []File {
	return []File{{Name: "exitcode", Data: []byte(data)}}
}

func TestDecodeFindsTheLastCompleteBlock(t *testing.T) {
	first := string(encode(t, oneFile("first"), 0))
	second := string(encode(t, oneFile("second"), 0))
	// An unfinished block: begin line and half the payload of a third.
	third := string(encode(t, oneFile("third"), 0))
	unfinished := third[:strings.Index(third, "\n")+10] + "\n"

	tests := []struct {
		name string
		log  string
		want string
	}{
		{"block alone", second, "second"},
		{"noise around", "starting\nwaiting for marker\n" + second + "done, holding\n", "second"},
		{"no newline at the end", strings.TrimSuffix(second, "\n"), "second"},
		{"CRLF line endings", strings.ReplaceAll(second, "\n", "\r\n"), "second"},
		{"two blocks", first + "restarted\n" + second, "second"},
		{"complete then unfinished", first + unfinished, "first"},
		{"unfinished then complete", unfinished + second, "second"},
		{"lines that look like base64 between blocks", first + "QUJD\n" + second + "QUJD\n", "second"},
		{"stderr log lines among the payload lines", interleave(second, "time=2026-03-01T10:00:00Z level=INFO msg=\"results shipped\" files=1", `{"level":"info"}`, ""), "second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := decode(t, []byte(tt.log))
			require.Len(t, files, 1)
			assert.Equal(t, tt.want, string(files[0].Data))
		})
	}
}

// interleave puts the noise lines after the begin line and before the end
// line of block.
func interleave(block string, noise ...string) string {
	ls := lines([]byte(block))
	out := append([]string{ls[0]}, noise...)
	out = append(out, ls[1:len(ls)-1]...)
	out = append(out, noise...)
	return join(append(out, ls[len(ls)-1]))
}

func TestDecodeReadsSlowly(t *testing.T) {
	block := encode(t, sampleFiles(), 0)
	files, err := Decode(iotest.OneByteReader(bytes.NewReader(block)))
	require.NoError(t, err)
	assert.Len(t, files, len(sampleFiles()))
}

func TestDecodeSkipsLongNoise(t *testing.T) {
	log := strings.Repeat("x", 200_000) + "\n" + string(encode(t, oneFile("ok"), 0)) + strings.Repeat("y", 100_000)
	files := decode(t, []byte(log))
	require.Len(t, files, 1)
	assert.Equal(t, "ok", string(files[0].Data))
}

// lines splits a block into its lines, without newlines.
func lines(block []byte) []string {
	return strings.Split(strings.TrimSuffix(string(block), "\n"), "\n")
}

func join(ls []string) string { return strings.Join(ls, "\n") + "\n" }

func TestDecodeErrors(t *testing.T) {
	// Big enough for several payload lines.
	block := encode(t, []File{{Name: "artifacts/a", Data: noise(3, 2000)}}, 0)
	ls := lines(block)
	require.Greater(t, len(ls), 6)
	payload := ls[1 : len(ls)-1]

	flip := func(s string) string {
		b := []byte(s)
		if b[10] == 'A' {
			b[10] = 'B'
		} else {
			b[10] = 'A'
		}
		return string(b)
	}
	replaceHeader := func(old, new string) string {
		return join(append([]string{strings.Replace(ls[0], old, new, 1)}, ls[1:]...))
	}
	withPayload := func(p []string) string {
		return join(append(append([]string{ls[0]}, p...), ls[len(ls)-1]))
	}

	tests := []struct {
		name     string
		log      string
		wantIs   error
		checksum bool
		wantMsg  string
	}{
		{name: "empty log", log: "", wantIs: ErrNoBlock},
		{name: "noise only", log: "hello\nworld\n", wantIs: ErrNoBlock},
		{name: "end line alone", log: endLine + "\n", wantIs: ErrNoBlock},
		{name: "begin line not at the start of a line", log: "echo " + string(block), wantIs: ErrNoBlock},
		{name: "no end line", log: join(ls[:len(ls)-1]), wantIs: ErrTruncated, wantMsg: "no end line"},
		{name: "begin line only", log: ls[0] + "\n", wantIs: ErrTruncated},
		{name: "a payload line lost", log: withPayload(append(append([]string{}, payload[:2]...), payload[3:]...)), wantIs: ErrTruncated, wantMsg: "of"},
		{name: "payload cut short", log: withPayload(payload[:1]), wantIs: ErrTruncated},
		{name: "flipped character", log: withPayload(append([]string{flip(payload[0])}, payload[1:]...)), checksum: true},
		{name: "wrong checksum", log: replaceHeader("sha256=", "sha256=00"), wantIs: ErrCorrupt, wantMsg: "bad checksum field"},
		{name: "checksum of other data", log: replaceHeader(ls[0][len(ls[0])-64:], strings.Repeat("ab", 32)), checksum: true},
		{name: "declared length too long", log: replaceHeader("len=", "len=9"), wantIs: ErrTruncated},
		{name: "declared length too short", log: replaceHeader("len=", "len=-"), wantIs: ErrCorrupt, wantMsg: "bad length field"},
		{name: "payload longer than declared", log: withPayload(append(append([]string{}, payload...), payload[0])), wantIs: ErrCorrupt, wantMsg: "longer than"},
		{name: "unknown version", log: replaceHeader(" v1 ", " v2 "), wantIs: ErrCorrupt, wantMsg: "version v2"},
		{name: "missing field", log: replaceHeader(" v1 ", " "), wantIs: ErrCorrupt, wantMsg: "2 fields"},
		{name: "a line replaced by noise", log: withPayload(append([]string{"!!!!" + payload[0][4:]}, payload[1:]...)), wantIs: ErrTruncated},
		{name: "misaligned base64", log: withPayload(append([]string{payload[0][1:]}, payload[1:]...)), wantIs: ErrCorrupt},
		{name: "long line inside", log: withPayload(append([]string{strings.Repeat("A", 70_000)}, payload...)), wantIs: ErrCorrupt, wantMsg: "a line of over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Decode(strings.NewReader(tt.log))
			assert.Nil(t, files)
			require.Error(t, err)
			if tt.checksum {
				var ce *ChecksumError
				require.ErrorAs(t, err, &ce)
				assert.NotEqual(t, ce.Want, ce.Got)
				assert.Contains(t, err.Error(), "checksum mismatch")
				return
			}
			require.ErrorIs(t, err, tt.wantIs)
			for _, other := range []error{ErrNoBlock, ErrTruncated, ErrCorrupt} {
				if other != tt.wantIs {
					assert.NotErrorIs(t, err, other)
				}
			}
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestDecodeReaderError(t *testing.T) {
	boom := errors.New("connection reset")
	r := iotest.TimeoutReader(bytes.NewReader(encode(t, oneFile("x"), 0)))
	_, err := Decode(r)
	require.ErrorIs(t, err, iotest.ErrTimeout)

	_, err = Decode(iotest.ErrReader(boom))
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "reading log")
}

// FuzzDecode feeds Decode logs, and, with framed set, payloads framed with
// a valid header and checksum, so that the fuzzer reaches the unpacker and
// its limits as well as the framing.
func FuzzDecode(f *testing.F) {
	valid := encode(f, sampleFiles(), 0)
	f.Add(valid, false)
	f.Add([]byte("noise\n"+string(valid)+"more noise\n"), false)
	f.Add(valid[:len(valid)/2], false)
	f.Add([]byte(beginPrefix+"v1 len=3 sha256="+strings.Repeat("0", 64)+"\nQUJD\n"+endLine+"\n"), false)
	f.Add([]byte(endLine+"\n"+beginPrefix+"\n"), false)
	f.Add([]byte{}, false)
	payload, err := pack(sampleFiles(), -1)
	require.NoError(f, err)
	f.Add(payload, true)
	hostile, err := pack([]File{{Name: "junit.xml", Data: hostileJUnit(200_000)}, {Name: "output.txt", Data: bytes.Repeat([]byte("x\n"), 100_000)}}, -1)
	require.NoError(f, err)
	f.Add(hostile, true)
	limits := Limits{Block: 4096, Output: 1000, JUnit: 8000, XMLValue: 100, File: 2000}
	f.Fuzz(func(t *testing.T, data []byte, framed bool) {
		log := data
		if framed {
			log = frame(data)
		}
		files, err := DecodeLimits(bytes.NewReader(log), limits)
		if err != nil {
			assert.Nil(t, files)
			return
		}
		total := 0
		for _, file := range files {
			assert.True(t, validName(file.Name), "name %q", file.Name)
			if file.Name != TruncatedFile {
				total += len(file.Data)
			}
			switch file.Name {
			case "output.txt":
				assert.LessOrEqual(t, len(file.Data), 1000+100)
			case "junit.xml":
				assert.LessOrEqual(t, len(file.Data), 8000)
			}
		}
		assert.LessOrEqual(t, total, ExpansionFactor*max(4096, len(data))+100*len(files))
	})
}
