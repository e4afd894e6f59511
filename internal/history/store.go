package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The history store keeps, per commit, what a run found: each test's
// verdict, duration, attempts and reasons, and, from a run with coverage
// in per-test pods, the files each test executed with their content
// hashes. It is a directory that a workflow carries with actions/cache:
//
//	DIR/<commit>.json   one file per commit (Record)
//
// One file per commit makes concurrent runs safe without a lock: each
// writes its own commit's file to a temporary name and renames it into
// place, and the index is rebuilt by listing the directory, so two runs
// of two commits never lose either. Two runs of the same commit replace
// each other whole; the last one to finish stays.

// StoreFormat is the store's format, the format field of every record.
const StoreFormat = 1

// MaxCommits bounds the store: after each write the oldest records (by the
// time their run recorded) past this many are deleted.
const MaxCommits = 50

// Bounds on what a record keeps, since test ids and reasons come from the
// tests and the store from a cache anyone's run may have written.
const (
	// MaxRecordBytes is the largest record read or written.
	MaxRecordBytes = 64 << 20
	// MaxUnpackedBytes is the most all the records of a packed store (a
	// ConfigMap of at most 1 MiB) may inflate to together.
	MaxUnpackedBytes = 256 << 20
	// maxReasons and maxReasonBytes bound a test's reasons.
	maxReasons     = 10
	maxReasonBytes = 256
	// MaxFootprintFiles bounds the files kept of one test's footprint.
	MaxFootprintFiles = 5000
)

// Verdicts a record keeps.
const (
	VerdictPassed      = "passed"
	VerdictFailed      = "failed"
	VerdictError       = "error"
	VerdictSkipped     = "skipped"
	VerdictNotRun      = "not_run"
	VerdictQuarantined = "quarantined"
)

// Test is one test's standing at the end of a run: the narrow input the
// store and the comparison take.
type Test struct {
	ID       string
	Verdict  string
	Duration time.Duration
	Attempts int
	Flaky    bool
	// Reasons are the attempts' infrastructure reasons (OOMKilled, ...),
	// in order, where they had one.
	Reasons []string
}

// Failed reports a verdict that fails a run.
func (t Test) Failed() bool { return t.Verdict == VerdictFailed || t.Verdict == VerdictError }

// Passed reports a test that passed, flaky or not.
func (t Test) Passed() bool { return t.Verdict == VerdictPassed }

// Record is one commit's file.
type Record struct {
	Format int    `json:"format"`
	Commit string `json:"commit"`
	// Branch is the branch the commit was run on, when known.
	Branch string                `json:"branch,omitempty"`
	Time   time.Time             `json:"time"`
	Tests  map[string]TestRecord `json:"tests"`
	// Footprints are, per test, the project's files (relative to the
	// project, slash-separated) its pod executed, each with the SHA-256 of
	// its contents at the run; only for tests that ran alone in a pod under
	// coverage.
	Footprints map[string]map[string]string `json:"footprints,omitempty"`
	// BaseDigest is the digest of the base image the tests ran on (the
	// first, in a runtime matrix).
	BaseDigest string `json:"base_digest,omitempty"`
	// PodOverheadSeconds is the run's mean per-pod overhead, which sets
	// --pod-per auto's threshold, as a durations file keeps it; absent
	// when the run measured none.
	PodOverheadSeconds float64 `json:"pod_overhead_seconds,omitempty"`
}

// TestRecord is one test in a Record.
type TestRecord struct {
	Verdict         string   `json:"verdict"`
	DurationSeconds float64  `json:"duration_seconds"`
	Attempts        int      `json:"attempts,omitempty"`
	Flaky           bool     `json:"flaky,omitempty"`
	Reasons         []string `json:"reasons,omitempty"`
}

// Test is the record's test id as a Test.
func (r TestRecord) Test(id string) Test {
	return Test{ID: id, Verdict: r.Verdict, Attempts: r.Attempts, Flaky: r.Flaky, Reasons: r.Reasons,
		Duration: seconds(r.DurationSeconds)}
}

func seconds(s float64) time.Duration {
	if s < 0 || math.IsNaN(s) || math.IsInf(s, 0) || s > 1e9 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// NewRecord is a run's record of tests on commit.
func NewRecord(commit, branch string, at time.Time, tests []Test) Record {
	r := Record{Format: StoreFormat, Commit: commit, Branch: branch, Time: at.UTC(), Tests: make(map[string]TestRecord, len(tests))}
	for _, t := range tests {
		tr := TestRecord{Verdict: t.Verdict, DurationSeconds: math.Round(t.Duration.Seconds()*1000) / 1000, Attempts: t.Attempts, Flaky: t.Flaky}
		for _, reason := range t.Reasons {
			if len(tr.Reasons) == maxReasons {
				break
			}
			if len(reason) > maxReasonBytes {
				reason = strings.ToValidUTF8(reason[:maxReasonBytes], "")
			}
			tr.Reasons = append(tr.Reasons, reason)
		}
		r.Tests[t.ID] = tr
	}
	return r
}

// Entry is one record in the store's index: its commit, branch and time,
// read without its tests.
type Entry struct {
	Commit string
	Branch string
	Time   time.Time
	path   string
}

// FormatError is a record in a format this k8s-testrun cannot read.
type FormatError struct {
	Path   string
	Format int
}

func (e *FormatError) Error() string {
	if e.Format > StoreFormat {
		return fmt.Sprintf("%s has history format %d, newer than this k8s-testrun reads (%d): upgrade k8s-testrun, or give another --history directory", e.Path, e.Format, StoreFormat)
	}
	return fmt.Sprintf("%s has history format %d, which this k8s-testrun does not read (%d): delete it", e.Path, e.Format, StoreFormat)
}

// Store is a history directory.
type Store struct {
	Dir string
	// Max is how many commits are kept; default MaxCommits.
	Max int
}

// commitName is what a commit may be: a hex object name, or a name that
// reads as one file in the directory.
var commitName = regexp.MustCompile(`^[0-9A-Za-z._-]{1,100}$`)

const recordSuffix = ".json"

func (s Store) path(commit string) (string, error) {
	if !commitName.MatchString(commit) || strings.HasPrefix(commit, ".") {
		return "", fmt.Errorf("commit %q is not a commit's name", commit)
	}
	return filepath.Join(s.Dir, commit+recordSuffix), nil
}

// Index lists the store's records, newest first, reading only each one's
// head. A record in a format other than StoreFormat is a *FormatError; a
// record that is no JSON or larger than MaxRecordBytes, another error.
func (s Store) Index() ([]Entry, error) {
	des, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading history %s: %w", s.Dir, err)
	}
	var out []Entry
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasSuffix(name, recordSuffix) || strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(s.Dir, name)
		e, err := readHead(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned by a concurrent run
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sortEntries(out)
	return out, nil
}

// sortEntries orders an index newest first.
func sortEntries(idx []Entry) {
	slices.SortStableFunc(idx, func(a, b Entry) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Commit, b.Commit)
	})
}

// readHead reads a record's format, commit, branch and time, skipping its
// tests and footprints.
func readHead(p string) (Entry, error) {
	f, err := os.Open(p)
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	var head struct {
		Format *int      `json:"format"`
		Commit string    `json:"commit"`
		Branch string    `json:"branch"`
		Time   time.Time `json:"time"`
	}
	dec := json.NewDecoder(io.LimitReader(f, MaxRecordBytes))
	bad := func(err error) error {
		return fmt.Errorf("history record %s: %w (delete it)", p, err)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Entry{}, bad(errors.New("not a JSON object"))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Entry{}, bad(err)
		}
		if (tok == "tests" || tok == "footprints") && head.Format != nil && head.Commit != "" && !head.Time.IsZero() {
			// The head comes first in what Save writes: the tests, the
			// bulk of a record, need not be read to list it.
			break
		}
		var dst any
		switch tok {
		case "format":
			dst = &head.Format
		case "commit":
			dst = &head.Commit
		case "branch":
			dst = &head.Branch
		case "time":
			dst = &head.Time
		default:
			dst = new(json.RawMessage)
		}
		if err := dec.Decode(dst); err != nil {
			return Entry{}, bad(err)
		}
	}
	if head.Format == nil {
		return Entry{}, bad(errors.New("no format field"))
	}
	if *head.Format != StoreFormat {
		return Entry{}, &FormatError{Path: p, Format: *head.Format}
	}
	if head.Commit == "" || head.Commit+recordSuffix != filepath.Base(p) {
		return Entry{}, bad(fmt.Errorf("commit %q does not match its file's name", head.Commit))
	}
	return Entry{Commit: head.Commit, Branch: head.Branch, Time: head.Time, path: p}, nil
}

func loadRecord(p string) (Record, bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxRecordBytes+1))
	if err != nil {
		return Record{}, false, fmt.Errorf("reading history record %s: %w", p, err)
	}
	if len(b) > MaxRecordBytes {
		return Record{}, false, fmt.Errorf("history record %s is larger than %d MiB (delete it)", p, MaxRecordBytes>>20)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, false, fmt.Errorf("history record %s: %w (delete it)", p, err)
	}
	if r.Format != StoreFormat {
		return Record{}, false, &FormatError{Path: p, Format: r.Format}
	}
	return r, true, nil
}

// Save writes r as its commit's record, replacing the commit's earlier one
// whole, then prunes the oldest records past Max. The record goes to a
// temporary file in the directory first and is renamed into place, so a
// reader never sees half of it.
func (s Store) Save(r Record) error {
	if r.Format == 0 {
		r.Format = StoreFormat
	}
	p, err := s.path(r.Commit)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if len(b) > MaxRecordBytes {
		return fmt.Errorf("the history record of %s would be larger than %d MiB; not written", r.Commit, MaxRecordBytes>>20)
	}
	// A store holding a record this k8s-testrun cannot read is left
	// alone: a newer version wrote it.
	if _, err := s.Index(); err != nil {
		return err
	}
	if err := writeFile(p, append(b, '\n')); err != nil {
		return fmt.Errorf("writing history: %w", err)
	}
	return s.Prune()
}

// Prune deletes the oldest records past Max. Records another run deleted
// first are no error.
func (s Store) Prune() error {
	max := s.Max
	if max <= 0 {
		max = MaxCommits
	}
	idx, err := s.Index()
	if err != nil {
		return err
	}
	for _, e := range idx[min(max, len(idx)):] {
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pruning history: %w", err)
		}
	}
	return nil
}

// writeFile replaces path with b, by rename.
func writeFile(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Chmod(0o644), tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Resolve finds the record ref names: a commit recorded in the store (a
// full name, or a prefix of at least 7 characters that only one commit
// has), else the newest record of the branch ref. except is a commit
// never taken for a branch (this run's own). ok is false when the store
// has no such record.
func (s Store) Resolve(ref, except string) (Entry, bool, error) {
	idx, err := s.Index()
	if err != nil {
		return Entry{}, false, err
	}
	e, ok := resolve(idx, ref, except)
	return e, ok, nil
}

// resolve is Resolve over an index, newest first.
func resolve(idx []Entry, ref, except string) (Entry, bool) {
	var found []Entry
	for _, e := range idx {
		if e.Commit == ref {
			return e, true
		}
		if len(ref) >= 7 && strings.HasPrefix(e.Commit, ref) {
			found = append(found, e)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	for _, e := range idx {
		if e.Branch == ref && e.Commit != except {
			return e, true
		}
	}
	return Entry{}, false
}

// Read reads the record an Entry lists.
func (s Store) Read(e Entry) (Record, bool, error) { return loadRecord(e.path) }

// Durations are each test's duration in its newest record, for the timing
// history: one cache serves both.
func (s Store) Durations() (map[string]time.Duration, error) {
	idx, err := s.Index()
	if err != nil {
		return nil, err
	}
	out := map[string]time.Duration{}
	// The newest few records hold nearly every test; reading them all
	// would cost a run the whole store.
	for _, e := range idx[:min(len(idx), durationRecords)] {
		r, ok, err := s.Read(e)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		for id, t := range r.Tests {
			if _, seen := out[id]; !seen && t.Verdict != VerdictNotRun && t.Verdict != VerdictSkipped {
				out[id] = seconds(t.DurationSeconds)
			}
		}
	}
	return out, nil
}

// Overhead is the per-pod overhead the newest of the newest few records
// that hold one recorded; 0 when none does.
func (s Store) Overhead() (time.Duration, error) {
	idx, err := s.Index()
	if err != nil {
		return 0, err
	}
	for _, e := range idx[:min(len(idx), durationRecords)] {
		r, ok, err := s.Read(e)
		if err != nil {
			return 0, err
		}
		if d := seconds(r.PodOverheadSeconds); ok && d > 0 {
			return d, nil
		}
	}
	return 0, nil
}

// durationRecords is how many of the newest records Durations reads.
const durationRecords = 5

// PassedInLast are those of ids that passed, and not flakily, in each of
// their last n records (their newest n records that hold them), and that
// have at least n.
func (s Store) PassedInLast(ids []string, n int) ([]string, error) {
	if len(ids) == 0 || n <= 0 {
		return nil, nil
	}
	idx, err := s.Index()
	if err != nil {
		return nil, err
	}
	return passedInLast(idx, s.Read, ids, n)
}

// passedInLast is PassedInLast over an index, newest first, and its reader.
func passedInLast(idx []Entry, read func(Entry) (Record, bool, error), ids []string, n int) ([]string, error) {
	passes := make(map[string]int, len(ids))
	broken := map[string]bool{}
	for _, e := range idx {
		r, ok, err := read(e)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		open := false
		for _, id := range ids {
			if broken[id] || passes[id] >= n {
				continue
			}
			t, ok := r.Tests[id]
			switch {
			case !ok:
			case t.Verdict == VerdictPassed && !t.Flaky:
				passes[id]++
			default:
				broken[id] = true
			}
			if !broken[id] && passes[id] < n {
				open = true
			}
		}
		if !open {
			break
		}
	}
	var out []string
	for _, id := range ids {
		if !broken[id] && passes[id] >= n {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
