// Package transport carries a test pod's results from the collector sidecar
// to the runner through the sidecar's own log.
//
// The sidecar prints one framed block; the runner reads the log back with
// pods/log and decodes it, so results need no volume, object store or exec,
// only the pods/log permission. A block is
//
//	K8S-TESTRUN-RESULTS BEGIN v1 len=<bytes> sha256=<hex>
//	<base64 of gzip(tar of the files), wrapped at 76 columns>
//	K8S-TESTRUN-RESULTS END
//
// where len and sha256 describe the gzip stream. The length tells a block cut
// short (log rotation, a killed sidecar) from a damaged one; the checksum
// catches damage. Blocks are size-capped, because the kubelet keeps only so
// much log and the runner holds the block in memory.
package transport

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Magic starts the begin and end lines of a block.
const Magic = "K8S-TESTRUN-RESULTS"

// Version is the block format Encode writes and Decode reads.
const Version = 1

// TruncatedFile is the name of the file, added to a block, that lists what
// the size cap cut. A caller may pass one in with notes of its own; Encode
// keeps them and appends its own.
const TruncatedFile = "TRUNCATED"

// CoverageDir holds, in a block, the coverage.py data files of the test
// process; Encode never cuts them, as it never cuts junit.xml.
const CoverageDir = "coverage"

// lineWidth is the length of the base64 lines: short enough for any log
// pipeline, the width MIME uses.
const lineWidth = 76

// File is one file of a block. Name is a slash-separated path relative to
// the results directory, such as "junit.xml" or "artifacts/screenshot.png".
type File struct {
	Name string
	Data []byte
	// Mode holds the permission bits; zero means 0o644.
	Mode fs.FileMode
	// Spilled, when set, is where the file's data waits on this machine's
	// disk; Data is then nil. Decode never sets it.
	Spilled string
}

var (
	// ErrNoBlock means the log holds no begin line.
	ErrNoBlock = errors.New("no result block in log")
	// ErrTruncated means a block began but its end line or part of its
	// payload is missing.
	ErrTruncated = errors.New("result block is truncated")
	// ErrCorrupt means a block is complete but cannot be read: a malformed
	// header, an unknown version, a payload that is not what Encode writes.
	ErrCorrupt = errors.New("result block is corrupt")
)

// ChecksumError means a block's payload has its declared length but not its
// declared checksum.
type ChecksumError struct {
	Want, Got string // hex sha256
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("result block checksum mismatch: header says sha256 %s, payload has %s", e.Want, e.Got)
}

// header is what a begin line declares.
type header struct {
	length int
	sum    string
}

var (
	beginPrefix = Magic + " BEGIN "
	endLine     = Magic + " END"
)

func (h header) String() string {
	return fmt.Sprintf("%sv%d len=%d sha256=%s", beginPrefix, Version, h.length, h.sum)
}

// parseBegin reads a line that starts with beginPrefix.
func parseBegin(line string) (header, error) {
	fields := strings.Fields(strings.TrimPrefix(line, beginPrefix))
	if len(fields) != 3 {
		return header{}, fmt.Errorf("%w: begin line has %d fields after %q, want 3", ErrCorrupt, len(fields), beginPrefix)
	}
	if fields[0] != "v"+strconv.Itoa(Version) {
		return header{}, fmt.Errorf("%w: version %s, this reader knows v%d", ErrCorrupt, fields[0], Version)
	}
	var h header
	n, ok := strings.CutPrefix(fields[1], "len=")
	length, err := strconv.Atoi(n)
	if !ok || err != nil || length < 0 {
		return header{}, fmt.Errorf("%w: bad length field %q", ErrCorrupt, fields[1])
	}
	h.length = length
	sum, ok := strings.CutPrefix(fields[2], "sha256=")
	if b, err := hex.DecodeString(sum); !ok || err != nil || len(b) != sha256.Size {
		return header{}, fmt.Errorf("%w: bad checksum field %q", ErrCorrupt, fields[2])
	}
	h.sum = strings.ToLower(sum)
	return h, nil
}

// blockSize is the number of bytes a block with an n-byte payload takes.
func blockSize(n int) int {
	sum := strings.Repeat("0", 2*sha256.Size)
	b64 := base64.StdEncoding.EncodedLen(n)
	lines := (b64 + lineWidth - 1) / lineWidth
	return len(header{length: n, sum: sum}.String()) + 1 + b64 + lines + len(endLine) + 1
}

// validName reports whether name can travel: a relative, clean,
// slash-separated path, as io/fs requires.
func validName(name string) bool {
	return name != "." && fs.ValidPath(name)
}
