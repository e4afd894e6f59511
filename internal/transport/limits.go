package transport

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// Defaults of Limits. A block is what a collector ships under its size cap
// (DefaultBlock unless the run says otherwise); what Decode keeps of it is
// at most ExpansionFactor times that, whatever the block unpacks to.
const (
	DefaultBlock    = 1 << 20
	ExpansionFactor = 16

	DefaultOutput   = 1 << 20
	DefaultJUnit    = 4 << 20
	DefaultXMLValue = 32 << 10
	DefaultFile     = 8 << 20

	// maxStreamed bounds the bytes Decode inflates at all, kept or not, so
	// that a hostile block costs bounded time as well as memory.
	maxStreamed = 1 << 30
)

// Bounds on the artifacts of one test (one block): the collector ships at
// most these, and Decode keeps at most these, whatever a block holds. Empty
// files compress to almost nothing, so without a count a 1 MiB block
// carries tens of thousands of them: as many inodes on the runner's disk.
const (
	MaxArtifactFiles = 1000
	MaxArtifactBytes = 64 << 20
)

// ArtifactsPrefix starts the names of artifact files in a block.
var ArtifactsPrefix = strings.TrimPrefix(layout.ArtifactsDir, layout.ResultsDir+"/") + "/"

// Limits bound what Decode keeps of a block once it is decompressed. They
// apply while the block streams through, so nothing larger is ever held.
// Zero fields take the defaults.
type Limits struct {
	// Block is the collector's block size cap; what Decode keeps in all is
	// at most ExpansionFactor times it (or times the block's own size, when
	// the block is larger). Default DefaultBlock.
	Block int64
	// Output bounds output.txt; its tail, where a failing test's last
	// words are, is kept. Default DefaultOutput.
	Output int64
	// JUnit bounds junit.xml once each of its values is cut to XMLValue.
	// Default DefaultJUnit.
	JUnit int64
	// XMLValue bounds each attribute value (a failure message) and each
	// run of text (a traceback, captured output) in junit.xml; the rest of
	// the value is replaced by a note of how much was cut. Default
	// DefaultXMLValue.
	XMLValue int64
	// File bounds any other file; a larger one is dropped. Default
	// DefaultFile.
	File int64
}

// DefaultLimits are the limits Decode applies.
var DefaultLimits = Limits{}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Block, DefaultBlock)
	def(&l.Output, DefaultOutput)
	def(&l.JUnit, DefaultJUnit)
	def(&l.XMLValue, DefaultXMLValue)
	def(&l.File, DefaultFile)
	return l
}

// CutNote is how a value cut by Decode ends: " [k8s-testrun cut N bytes]".
func CutNote(n int64) string { return fmt.Sprintf(" [k8s-testrun cut %d bytes]", n) }

// Bounded keeps at most Max bytes written to it; the rest is counted, not
// kept: for output whose size the writer does not control.
type Bounded struct {
	buf     []byte
	Max     int64
	dropped int64
}

func (b *Bounded) Write(p []byte) (int, error) {
	room := b.Max - int64(len(b.buf))
	switch {
	case room <= 0:
		b.dropped += int64(len(p))
	case int64(len(p)) > room:
		b.buf = append(b.buf, p[:room]...)
		b.dropped += int64(len(p)) - room
	default:
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

// Bytes are the bytes kept.
func (b *Bounded) Bytes() []byte { return b.buf }

// String is Bytes as a string.
func (b *Bounded) String() string { return string(b.buf) }

// Cut says whether more was written than kept.
func (b *Bounded) Cut() bool { return b.dropped > 0 }

// Tail keeps the last bytes written to it, up to a bound, in a ring
// allocated once: for a child process's output, where only its end is
// shown.
type Tail struct{ b tailBuffer }

// NewTail keeps the last max bytes.
func NewTail(max int) *Tail { return &Tail{b: tailBuffer{max: max}} }

func (t *Tail) Write(p []byte) (int, error) { return t.b.Write(p) }

// String is what is kept, oldest first.
func (t *Tail) String() string { return string(t.b.tail()) }

// tailBuffer keeps the last max bytes written, in a ring of max bytes
// allocated once.
type tailBuffer struct {
	max     int
	ring    []byte
	pos     int // where the next byte goes
	full    bool
	dropped int64
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if t.max <= 0 {
		t.dropped += int64(n)
		return n, nil
	}
	if t.ring == nil {
		t.ring = make([]byte, 0, min(t.max, 64<<10))
	}
	// Grow to max as bytes come, then wrap.
	for len(p) > 0 && !t.full {
		room := t.max - len(t.ring)
		k := min(room, len(p))
		t.ring = append(t.ring, p[:k]...)
		p = p[k:]
		if len(t.ring) == t.max {
			t.full = true
		}
	}
	if len(p) == 0 {
		return n, nil
	}
	if len(p) > t.max {
		t.dropped += int64(len(p) - t.max)
		p = p[len(p)-t.max:]
	}
	t.dropped += int64(len(p))
	k := copy(t.ring[t.pos:], p)
	copy(t.ring, p[k:])
	t.pos = (t.pos + len(p)) % t.max
	return n, nil
}

func (t *tailBuffer) tail() []byte {
	if !t.full || t.pos == 0 {
		return t.ring
	}
	return append(append(make([]byte, 0, t.max), t.ring[t.pos:]...), t.ring[:t.pos]...)
}

// bytes returns the tail, starting at a whole character, with a note of
// what was cut before it.
func (t *tailBuffer) bytes() []byte {
	b := t.tail()
	if t.dropped == 0 {
		return b
	}
	for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:]
		t.dropped++
	}
	note := fmt.Sprintf("[k8s-testrun cut the first %d bytes of the output]\n", t.dropped)
	return append([]byte(note), b...)
}

// xmlCapper passes XML through, cutting every attribute value and every
// run of text to max bytes followed by CutNote. It looks only at '<', '>'
// and quotes, which is all pytest's JUnit files need; any input, well
// formed or not, comes out bounded. A cut never splits a character or an
// entity reference ("&amp;"), so well-formed XML stays well formed.
type xmlCapper struct {
	w   io.Writer
	max int64

	inTag   bool
	quote   byte  // the quote of the attribute value being read, or 0
	run     int64 // bytes of the current value kept
	dropped int64 // bytes of the current value cut
	entity  int   // bytes since an unterminated '&', or -1
	total   int64 // bytes cut in all
	out     []byte
}

func newXMLCapper(w io.Writer, max int64) *xmlCapper {
	return &xmlCapper{w: w, max: max, entity: -1}
}

// maxEntity is the longest entity reference a cut waits for.
const maxEntity = 16

func (x *xmlCapper) Write(p []byte) (int, error) {
	x.out = x.out[:0]
	for _, c := range p {
		inValue := x.quote != 0 || !x.inTag
		ends := (x.quote != 0 && c == x.quote) || (x.quote == 0 && !x.inTag && c == '<')
		if inValue && !ends {
			x.valueByte(c)
			continue
		}
		x.endValue()
		switch {
		case x.quote != 0: // c is the closing quote
			x.quote = 0
		case !x.inTag: // c is '<'
			x.inTag = true
		case c == '"' || c == '\'':
			x.quote = c
		case c == '>':
			x.inTag = false
		}
		x.out = append(x.out, c)
	}
	if _, err := x.w.Write(x.out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (x *xmlCapper) valueByte(c byte) {
	keep := x.run < x.max && x.dropped == 0
	if !keep && x.dropped == 0 && x.run < x.max+maxEntity {
		// Just past the cap: finish a character or an entity begun before it.
		keep = !utf8.RuneStart(c) || x.entity >= 0
	}
	switch {
	case c == '&':
		x.entity = 0
	case c == ';':
		x.entity = -1
	case x.entity >= 0:
		x.entity++
	}
	if keep {
		x.out = append(x.out, c)
		x.run++
		return
	}
	x.dropped++
	x.total++
}

func (x *xmlCapper) endValue() {
	if x.dropped > 0 {
		x.out = append(x.out, CutNote(x.dropped)...)
	}
	x.run, x.dropped, x.entity = 0, 0, -1
}

// flush ends a value the input left open.
func (x *xmlCapper) flush() error {
	x.out = x.out[:0]
	x.endValue()
	_, err := x.w.Write(x.out)
	return err
}

// fileKind says how Decode bounds a file.
func fileKind(name string) string {
	switch {
	case name == layout.OutputFile:
		return "output"
	case name == layout.JUnitFile:
		return "junit"
	}
	// Any other file, the streaming plugin's cases/*.json entries included
	// (they hold a test's JUnit XML inside JSON, which a cut would break),
	// is kept whole or dropped.
	return "file"
}
