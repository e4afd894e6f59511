package transport

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// Encode writes files to w as one block, with a single Write so that nothing
// else written to the same log can land inside it.
//
// limit caps the bytes written, framing included; limit <= 0 means no cap.
// When the files do not fit, Encode cuts, in this order, until they do:
// whole files other than junit.xml, output.txt, exitcode and TRUNCATED
// (the artifacts), largest first; then the head of output.txt, keeping its
// tail, where a failing test's last words are; then output.txt itself. It
// never cuts junit.xml or exitcode: if they alone exceed limit, the block is
// written larger than limit, since a result without them is worthless. Each
// cut is listed in TruncatedFile.
func Encode(w io.Writer, files []File, limit int) error {
	set, err := newFileSet(files)
	if err != nil {
		return err
	}
	payload := set.fit(limit)
	if _, err := w.Write(frame(payload)); err != nil {
		return fmt.Errorf("writing result block: %w", err)
	}
	return nil
}

// frame wraps a payload in its begin and end lines.
func frame(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	h := header{length: len(payload), sum: hex.EncodeToString(sum[:])}
	b64 := base64.StdEncoding.EncodeToString(payload)

	var buf bytes.Buffer
	buf.Grow(blockSize(len(payload)))
	buf.WriteString(h.String())
	buf.WriteByte('\n')
	for len(b64) > 0 {
		n := min(lineWidth, len(b64))
		buf.WriteString(b64[:n])
		buf.WriteByte('\n')
		b64 = b64[n:]
	}
	buf.WriteString(endLine)
	buf.WriteByte('\n')
	return buf.Bytes()
}

// fileSet sorts the files by what the cap may do to them.
type fileSet struct {
	essential []File // never cut
	output    *File  // cut from the head, then dropped
	droppable []File // dropped whole, in this order
	notes     string // a TruncatedFile passed in
}

func newFileSet(files []File) (fileSet, error) {
	var s fileSet
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if !validName(f.Name) {
			return fileSet{}, fmt.Errorf("encoding result block: invalid file name %q", f.Name)
		}
		if seen[f.Name] {
			return fileSet{}, fmt.Errorf("encoding result block: file %q given twice", f.Name)
		}
		seen[f.Name] = true
		switch {
		case f.Name == layout.JUnitFile, f.Name == layout.ExitCodeFile, f.Name == layout.TimesFile,
			strings.HasPrefix(f.Name, layout.CasesDir+"/"), strings.HasPrefix(f.Name, CoverageDir+"/"):
			// The streamed entries are each test's verdict; the sidecar
			// bounds each one when it reads it. A coverage data file cut
			// or dropped would silently lower the run's coverage.
			s.essential = append(s.essential, f)
		case f.Name == TruncatedFile:
			s.notes = string(f.Data)
		case f.Name == layout.OutputFile:
			s.output = &f
		default:
			s.droppable = append(s.droppable, f)
		}
	}
	slices.SortFunc(s.droppable, func(a, b File) int {
		return cmp.Or(cmp.Compare(len(b.Data), len(a.Data)), strings.Compare(a.Name, b.Name))
	})
	return s, nil
}

// cut describes what the cap removed: the first dropped files of droppable,
// and of output the last tail bytes kept (all when tail < 0), or none.
type cut struct {
	dropped    int
	tail       int
	dropOutput bool
}

// files returns the set as cut by c, with the notes that explain it.
func (s fileSet) files(c cut, limit int) []File {
	out := slices.Clone(s.essential)
	out = append(out, s.droppable[c.dropped:]...)
	var notes []string
	for _, f := range s.droppable[:c.dropped] {
		notes = append(notes, fmt.Sprintf("dropped %s (%d bytes)", f.Name, len(f.Data)))
	}
	if s.output != nil {
		data := s.output.Data
		switch {
		case c.dropOutput:
			notes = append(notes, fmt.Sprintf("dropped %s (%d bytes)", s.output.Name, len(data)))
			data = nil
		case c.tail >= 0 && c.tail < len(data):
			start := len(data) - c.tail
			for start < len(data) && !utf8.RuneStart(data[start]) {
				start++
			}
			notes = append(notes, fmt.Sprintf("%s: kept the last %d of %d bytes", s.output.Name, len(data)-start, len(data)))
			data = data[start:]
		}
		if !c.dropOutput {
			out = append(out, File{Name: s.output.Name, Data: data, Mode: s.output.Mode})
		}
	}
	text := s.notes
	if len(notes) > 0 {
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		text += fmt.Sprintf("results exceeded the result block limit of %d bytes:\n", limit)
		text += strings.Join(notes, "\n") + "\n"
	}
	if text != "" {
		out = append(out, File{Name: TruncatedFile, Data: []byte(text)})
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// fit returns the payload of the largest cut-down set that fits in limit,
// trying cuts in the documented order. Each try compresses the set again,
// aborting once the output passes limit, so a try costs at most about limit
// bytes of compressed output; binary searches keep the number of tries
// logarithmic.
func (s fileSet) fit(limit int) []byte {
	if limit <= 0 {
		payload, _ := pack(s.files(cut{tail: -1}, limit), -1)
		return payload
	}
	try := func(c cut) ([]byte, bool) {
		payload, err := pack(s.files(c, limit), limit)
		return payload, err == nil && blockSize(len(payload)) <= limit
	}
	if payload, ok := try(cut{tail: -1}); ok {
		return payload
	}

	// Drop whole files: the fewest, largest first, that make the rest fit.
	n := len(s.droppable)
	if n > 0 {
		if _, ok := try(cut{dropped: n, tail: -1}); ok {
			k := searchFirst(1, n, func(k int) bool { _, ok := try(cut{dropped: k, tail: -1}); return ok })
			payload, _ := try(cut{dropped: k, tail: -1})
			return payload
		}
	}

	// Keep as much of the output's tail as fits, to within 1/64 of its size.
	if s.output != nil {
		size := len(s.output.Data)
		if _, ok := try(cut{dropped: n, tail: 0}); ok {
			fits := func(tail int) bool { _, ok := try(cut{dropped: n, tail: tail}); return ok }
			tail := searchLast(0, size, max(1, size/64), fits)
			payload, _ := try(cut{dropped: n, tail: tail})
			return payload
		}
	}

	// junit.xml and exitcode alone exceed the limit: ship them anyway.
	payload, _ := pack(s.files(cut{dropped: n, dropOutput: s.output != nil}, limit), -1)
	return payload
}

// searchFirst returns the smallest k in [lo, hi] with ok(k), given ok(hi)
// and ok monotonic.
func searchFirst(lo, hi int, ok func(int) bool) int {
	for lo < hi {
		mid := lo + (hi-lo)/2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

// searchLast returns a k in [lo, hi) with ok(k), within tolerance of the
// largest such, given ok(lo), not ok(hi), and ok monotonic.
func searchLast(lo, hi, tolerance int, ok func(int) bool) int {
	for hi-lo > tolerance {
		mid := lo + (hi-lo)/2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// errTooBig stops a pack whose output passed its cap.
var errTooBig = errors.New("payload over the cap")

type capWriter struct {
	buf bytes.Buffer
	cap int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.cap >= 0 && w.buf.Len()+len(p) > w.cap {
		return 0, errTooBig
	}
	return w.buf.Write(p)
}

// epoch is every entry's modification time, so equal files give equal
// blocks.
var epoch = time.Unix(0, 0)

// pack returns gzip(tar(files)), or errTooBig once it would exceed maxLen
// bytes (maxLen < 0: no cap).
func pack(files []File, maxLen int) ([]byte, error) {
	out := &capWriter{cap: maxLen}
	zw := gzip.NewWriter(out)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.Name,
			Mode:     int64(mode),
			Size:     int64(len(f.Data)),
			ModTime:  epoch,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.buf.Bytes(), nil
}
