package transport

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds the lines Decode looks at. Longer lines are noise outside a
// block and damage inside one.
const maxLine = 64 << 10

// Decode is DecodeLimits with DefaultLimits.
func Decode(r io.Reader) ([]File, error) {
	return DecodeLimits(r, DefaultLimits)
}

// DecodeLimits reads a log and returns the files of its last complete block,
// ignoring any other lines around it: a sidecar that was restarted may have
// printed more than one, and the last one is the freshest. Lines inside a
// block that cannot be payload (they hold a space or other characters
// base64 does not use) are skipped too: the container runtime reads stdout
// and stderr separately, so a log line the sidecar wrote to stderr just
// before or after the block can land among its lines. The length and
// checksum still vouch for the payload.
//
// Errors: ErrNoBlock when there is no begin line; ErrTruncated when there is
// no complete block, or the last one is shorter than its header says;
// *ChecksumError when its payload does not match its checksum; ErrCorrupt
// when it is otherwise unreadable; or the reader's own error.
//
// What is kept of the block's files is bounded by limits, applied while
// they are decompressed: output.txt keeps its tail, every value in
// junit.xml is cut to limits.XMLValue with a note of how much was cut, any
// other file over limits.File is dropped, and all together stay under
// ExpansionFactor times the block size. Each cut is noted in the block's
// TruncatedFile, which is added when the block had none.
func DecodeLimits(r io.Reader, limits Limits) ([]File, error) {
	br := bufio.NewReaderSize(r, maxLine)
	var cur, last *block
	for {
		raw, long, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading log: %w", err)
		}
		line := strings.TrimSpace(string(raw))
		switch {
		case long:
			if cur != nil {
				cur.fail(fmt.Errorf("%w: a line of over %d bytes inside the block", ErrCorrupt, maxLine))
			}
		case strings.HasPrefix(line, beginPrefix):
			h, herr := parseBegin(line)
			cur = &block{header: h, err: herr}
		case line == endLine:
			if cur != nil {
				last, cur = cur, nil
			}
		case cur != nil && isPayload(line):
			cur.add(line)
		}
		if err != nil {
			break
		}
	}
	switch {
	case last != nil:
		return last.files(limits.withDefaults())
	case cur != nil:
		return nil, fmt.Errorf("%w: no end line", ErrTruncated)
	default:
		return nil, ErrNoBlock
	}
}

// isPayload reports whether line consists of base64 characters only.
func isPayload(line string) bool {
	if line == "" {
		return false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// readLine returns the next line, or its first maxLine bytes and long set.
func readLine(br *bufio.Reader) (line []byte, long bool, err error) {
	line, err = br.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		long = true
		_, err = br.ReadSlice('\n')
	}
	return line, long, err
}

// block is a block being read.
type block struct {
	header
	b64 strings.Builder
	err error
}

func (b *block) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *block) add(line string) {
	if b.err != nil {
		return
	}
	// A block longer than its header says is damaged; stop holding it.
	if b.b64.Len()+len(line) > base64.StdEncoding.EncodedLen(b.length) {
		b.fail(fmt.Errorf("%w: payload longer than the %d bytes declared", ErrCorrupt, b.length))
		return
	}
	b.b64.WriteString(line)
}

// files checks the payload against the header and unpacks it.
func (b *block) files(limits Limits) ([]File, error) {
	if b.err != nil {
		return nil, b.err
	}
	payload, err := base64.StdEncoding.DecodeString(b.b64.String())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(payload) < b.length {
		return nil, fmt.Errorf("%w: %d of %d bytes", ErrTruncated, len(payload), b.length)
	}
	if len(payload) > b.length {
		return nil, fmt.Errorf("%w: payload longer than the %d bytes declared", ErrCorrupt, b.length)
	}
	sum := sha256.Sum256(payload)
	if got := hex.EncodeToString(sum[:]); got != b.sum {
		return nil, &ChecksumError{Want: b.sum, Got: got}
	}
	files, err := unpack(payload, limits)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return files, nil
}

// unpack reads gzip(tar) as pack writes it, keeping what limits allow.
func unpack(payload []byte, limits Limits) ([]File, error) {
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	// Bytes inflated at all, kept or not: past this the block is hostile.
	streamed := &io.LimitedReader{R: zr, N: maxStreamed}
	tr := tar.NewReader(streamed)
	keep := ExpansionFactor * max(limits.Block, int64(len(payload)))
	files := []File{}
	seen := map[string]bool{}
	var notes []string
	truncated := -1
	// One copy buffer for every entry: a block of many small files would
	// otherwise cost one of io.Copy's 32 KiB buffers each.
	buf := make([]byte, 32<<10)
	var artifacts, overCount int
	var artifactBytes int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, streamErr(streamed, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("entry %q is not a regular file", hdr.Name)
		}
		artifact := strings.HasPrefix(hdr.Name, ArtifactsPrefix)
		if artifact {
			// The first MaxArtifactFiles are looked at, kept or dropped
			// with a note; the rest are counted, never held: tar skips
			// their data.
			if artifacts >= MaxArtifactFiles {
				overCount++
				continue
			}
			artifacts++
		}
		if !validName(hdr.Name) || seen[hdr.Name] {
			return nil, fmt.Errorf("invalid or repeated entry name %q", hdr.Name)
		}
		seen[hdr.Name] = true
		if hdr.Size < 0 {
			return nil, fmt.Errorf("entry %q has a negative size", hdr.Name)
		}
		if artifact && artifactBytes+hdr.Size > MaxArtifactBytes {
			notes = append(notes, fmt.Sprintf("decoder dropped %s (%d bytes): the artifacts exceed %d bytes", hdr.Name, hdr.Size, MaxArtifactBytes))
			continue
		}
		data, note, err := readEntry(tr, hdr.Name, limits, keep, buf)
		if err != nil {
			return nil, streamErr(streamed, err)
		}
		if note != "" {
			notes = append(notes, note)
		}
		if data == nil {
			continue // dropped
		}
		if artifact {
			artifactBytes += int64(len(data))
		}
		keep -= int64(len(data))
		if hdr.Name == TruncatedFile {
			truncated = len(files)
		}
		files = append(files, File{Name: hdr.Name, Data: data, Mode: hdr.FileInfo().Mode().Perm()})
	}
	if overCount > 0 {
		notes = append(notes, fmt.Sprintf("decoder dropped %d artifact files over the limit of %d files per test", overCount, MaxArtifactFiles))
	}
	return withNotes(files, truncated, notes), nil
}

// withNotes adds the decoder's notes to the TRUNCATED file, files[truncated],
// or as a new one when truncated is negative.
func withNotes(files []File, truncated int, notes []string) []File {
	if len(notes) == 0 {
		return files
	}
	add := []byte(strings.Join(notes, "\n") + "\n")
	if truncated < 0 {
		return append(files, File{Name: TruncatedFile, Data: add, Mode: 0o644})
	}
	f := &files[truncated]
	if len(f.Data) > 0 && !bytes.HasSuffix(f.Data, []byte("\n")) {
		f.Data = append(f.Data, '\n')
	}
	f.Data = append(f.Data, add...)
	return files
}

// readEntry reads one file within limits and what is left of keep, through
// buf, and returns it (nil when dropped) with a note of any cut.
func readEntry(r io.Reader, name string, limits Limits, keep int64, buf []byte) ([]byte, string, error) {
	switch fileKind(name) {
	case "output":
		t := &tailBuffer{max: int(min(limits.Output, max(keep, 0)))}
		if _, err := io.CopyBuffer(t, r, buf); err != nil {
			return nil, "", err
		}
		data := nonNil(t.bytes())
		if t.dropped == 0 {
			return data, "", nil
		}
		return data, fmt.Sprintf("decoder cut the first %d bytes of %s", t.dropped, name), nil
	case "junit":
		b := &Bounded{Max: min(limits.JUnit, max(keep, 0))}
		x := newXMLCapper(b, limits.XMLValue)
		if _, err := io.CopyBuffer(x, r, buf); err != nil {
			return nil, "", err
		}
		if err := x.flush(); err != nil {
			return nil, "", err
		}
		switch {
		case b.dropped > 0:
			// A cut XML file would not parse: drop it, and say so.
			return nil, fmt.Sprintf("decoder dropped %s: over %d bytes with each value cut to %d", name, b.Max, limits.XMLValue), nil
		case x.total > 0:
			return nonNil(b.buf), fmt.Sprintf("decoder cut %d bytes of values over %d bytes from %s", x.total, limits.XMLValue, name), nil
		}
		return nonNil(b.buf), "", nil
	default:
		b := &Bounded{Max: min(limits.File, max(keep, 0))}
		if _, err := io.CopyBuffer(b, r, buf); err != nil {
			return nil, "", err
		}
		if b.dropped > 0 {
			return nil, fmt.Sprintf("decoder dropped %s (%d bytes, over %d)", name, int64(len(b.buf))+b.dropped, b.Max), nil
		}
		return nonNil(b.buf), "", nil
	}
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// streamErr names a block that inflates past maxStreamed.
func streamErr(streamed *io.LimitedReader, err error) error {
	if streamed.N <= 0 {
		return fmt.Errorf("entries unpack to more than %d bytes", int64(maxStreamed))
	}
	return err
}
