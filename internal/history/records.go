package history

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Records is a history store held whole in memory, for a store kept in
// one object, such as the operator's ConfigMap: the same records as a
// Store's directory, each gzipped under its own key (Pack, Unpack).
type Records []Record

// PackedSuffix ends each record's key in a packed store.
const PackedSuffix = ".json.gz"

// Index lists the records, newest first, as Store.Index does.
func (rs Records) Index() []Entry {
	out := make([]Entry, 0, len(rs))
	for _, r := range rs {
		out = append(out, Entry{Commit: r.Commit, Branch: r.Branch, Time: r.Time})
	}
	sortEntries(out)
	return out
}

// Resolve finds the record ref names, as Store.Resolve does.
func (rs Records) Resolve(ref, except string) (Record, bool) {
	e, ok := resolve(rs.Index(), ref, except)
	if !ok {
		return Record{}, false
	}
	for _, r := range rs {
		if r.Commit == e.Commit {
			return r, true
		}
	}
	return Record{}, false
}

// PassedInLast are those of ids that passed, and not flakily, in each of
// their last n records, as Store.PassedInLast.
func (rs Records) PassedInLast(ids []string, n int) []string {
	if len(ids) == 0 || n <= 0 {
		return nil
	}
	out, _ := passedInLast(rs.Index(), func(e Entry) (Record, bool, error) {
		r, ok := rs.Resolve(e.Commit, "")
		return r, ok, nil
	}, ids, n)
	return out
}

// With is rs with r in place of its commit's earlier record.
func (rs Records) With(r Record) Records {
	if r.Format == 0 {
		r.Format = StoreFormat
	}
	out := Records{r}
	for _, o := range rs {
		if o.Commit != r.Commit {
			out = append(out, o)
		}
	}
	return out
}

// Unpack reads a packed store: each key ending in PackedSuffix is one
// gzipped record, of at most MaxRecordBytes. A record in a format other
// than StoreFormat is a *FormatError, so that a store a newer version
// wrote is neither read nor overwritten. All records together inflate to
// at most MaxUnpackedBytes.
func Unpack(data map[string][]byte) (Records, error) {
	var out Records
	left := unpackBudget
	for key, gz := range data {
		commit, ok := strings.CutSuffix(key, PackedSuffix)
		if !ok {
			continue
		}
		b, err := gunzip(gz, min(MaxRecordBytes, left))
		if errors.Is(err, errInflatesPast) && left < MaxRecordBytes {
			return nil, fmt.Errorf("history records: larger than %d MiB once inflated in all (delete the oldest)", unpackBudget>>20)
		}
		if err != nil {
			return nil, fmt.Errorf("history record %s: %w (delete it)", key, err)
		}
		left -= len(b)
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("history record %s: %w (delete it)", key, err)
		}
		if r.Format != StoreFormat {
			return nil, &FormatError{Path: key, Format: r.Format}
		}
		if r.Commit != commit {
			return nil, fmt.Errorf("history record %s: commit %q does not match its key (delete it)", key, r.Commit)
		}
		out = append(out, r)
	}
	return out, nil
}

// Pack writes the newest records, at most MaxCommits, whose gzipped
// sizes add up to at most budget bytes: older ones are pruned. A record
// too large for the budget alone is kept without its footprints when
// that fits; dropped says which records were left out or lost their
// footprints.
func Pack(rs Records, budget int) (data map[string][]byte, dropped []string, err error) {
	data = map[string][]byte{}
	size := 0
	byCommit := make(map[string]Record, len(rs))
	for _, r := range rs {
		byCommit[r.Commit] = r
	}
	for _, e := range rs.Index() {
		r := byCommit[e.Commit]
		if !commitName.MatchString(r.Commit) || strings.HasPrefix(r.Commit, ".") {
			dropped = append(dropped, r.Commit+" (not a commit's name)")
			continue
		}
		if len(data) == MaxCommits {
			dropped = append(dropped, r.Commit)
			continue
		}
		gz, err := gzipJSON(r)
		if err != nil {
			return nil, nil, err
		}
		if size+len(gz) > budget && len(r.Footprints) > 0 {
			r.Footprints = nil
			if gz, err = gzipJSON(r); err != nil {
				return nil, nil, err
			}
			dropped = append(dropped, r.Commit+" (footprints)")
		}
		if size+len(gz) > budget {
			dropped = append(dropped, r.Commit)
			continue
		}
		data[r.Commit+PackedSuffix] = gz
		size += len(gz)
	}
	return data, dropped, nil
}

func gzipJSON(r Record) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gunzip inflates gz up to max bytes; more is an error, so a small
// record cannot grow without bound once read.
func gunzip(gz []byte, max int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	b, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("larger than %d MiB once %w", max>>20, errInflatesPast)
	}
	return b, nil
}

// unpackBudget is MaxUnpackedBytes, smaller in tests.
var unpackBudget = MaxUnpackedBytes

// errInflatesPast ends gunzip's error when gz inflates past its bound.
var errInflatesPast = errors.New("inflated")
