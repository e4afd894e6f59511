// Package quarantine reads a project's quarantine file: tests whose
// failures are known and owned, each until a date. A quarantined test
// still runs; its failure is reported as quarantined and does not fail the
// run, until its entry expires.
//
// The file is the project's, so it is untrusted data: read bounded and
// strictly (unknown fields refused), never executed, and every value shown
// from it is escaped by whoever shows it.
package quarantine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// DefaultPath is the quarantine file read, relative to the project, when
// it exists and none is given.
const DefaultPath = ".k8s-testrun/quarantine.yaml"

// MaxFileBytes bounds the quarantine file.
const MaxFileBytes = 1 << 20

// DateLayout is the layout of an entry's until date.
const DateLayout = "2006-01-02"

// File is the quarantine file's content.
type File struct {
	Quarantine []Entry `json:"quarantine"`
}

// Entry quarantines the tests its Test names: a test id, or a pattern
// with path.Match's syntax, matched against the whole test id.
type Entry struct {
	Test string `json:"test"`
	// Until is the last day (UTC) the entry protects, YYYY-MM-DD.
	Until  string `json:"until"`
	Reason string `json:"reason"`
	Owner  string `json:"owner,omitempty"`
	Link   string `json:"link,omitempty"`

	// until is the first instant the entry no longer protects: the day
	// after Until, at 00:00 UTC.
	until time.Time
	// index is the entry's place in the file, from 1.
	index int
}

// List is a parsed quarantine file.
type List struct {
	// Path is the file as the user named it.
	Path    string
	Entries []Entry
}

// Expired reports an entry past its until date at now.
func (e Entry) Expired(now time.Time) bool { return !now.Before(e.until) }

// Matches reports whether the entry names the test: the id itself, or a
// pattern that matches it. A parametrized id holds brackets, which
// path.Match reads as a class, so the exact id is tried first.
func (e Entry) Matches(testID string) bool {
	if e.Test == testID {
		return true
	}
	ok, err := path.Match(e.Test, testID)
	return err == nil && ok
}

// Describe is the entry as a report shows it: "reason (until
// 2026-12-31, owner @x, link https://…)".
func (e Entry) Describe() string {
	parts := []string{"until " + e.Until}
	if e.Owner != "" {
		parts = append(parts, "owner "+e.Owner)
	}
	if e.Link != "" {
		parts = append(parts, e.Link)
	}
	return fmt.Sprintf("%s (%s)", e.Reason, strings.Join(parts, ", "))
}

// name is the entry as an error line names it.
func (l *List) name(e Entry) string {
	return l.Path + ": " + entryName(e)
}

// entryName is the entry by its place in the file and its test.
func entryName(e Entry) string {
	if e.Test == "" {
		return fmt.Sprintf("entry %d", e.index)
	}
	return fmt.Sprintf("entry %d (test %s)", e.index, strconv.Quote(e.Test))
}

// EntryError is one bad entry of a quarantine file: what is wrong and how
// to fix it, in one line.
type EntryError struct {
	Line string
}

func (e *EntryError) Error() string { return e.Line }

// Load reads and checks a quarantine file from r; display is how error
// lines name it. Every bad entry gets an *EntryError of its own, joined.
func Load(r io.Reader, display string) (*List, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display, err)
	}
	if len(data) > MaxFileBytes {
		return nil, &EntryError{fmt.Sprintf("%s: larger than %d bytes; keep the quarantine file short", display, MaxFileBytes)}
	}
	return Parse(data, display)
}

// Parse checks a quarantine file's content; display names the file.
func Parse(data []byte, display string) (*List, error) {
	var f File
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.UnmarshalStrict(data, &f); err != nil {
			return nil, &EntryError{fmt.Sprintf("%s: %s; write a list under quarantine: with test, until, reason and optional owner and link",
				display, oneLine(err.Error()))}
		}
	}
	l := &List{Path: display}
	var errs []error
	bad := func(e Entry, what string) {
		errs = append(errs, &EntryError{l.name(e) + ": " + what})
	}
	for i, e := range f.Quarantine {
		e.index = i + 1
		ok := true
		if strings.TrimSpace(e.Test) == "" {
			bad(e, "no test; add test: <test id or pattern>")
			ok = false
		} else if _, err := path.Match(e.Test, ""); err != nil {
			bad(e, "the pattern is malformed ("+err.Error()+"); fix its brackets or escape them with \\")
			ok = false
		}
		switch day, err := time.Parse(DateLayout, e.Until); {
		case e.Until == "":
			bad(e, "no until date; add until: YYYY-MM-DD, the last day the quarantine holds")
			ok = false
		case err != nil:
			bad(e, fmt.Sprintf("until %s is not a date; write it as YYYY-MM-DD", strconv.Quote(e.Until)))
			ok = false
		default:
			e.until = day.AddDate(0, 0, 1)
		}
		if strings.TrimSpace(e.Reason) == "" {
			bad(e, "no reason; add reason: why the test is quarantined")
			ok = false
		}
		if ok {
			l.Entries = append(l.Entries, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// Lookup finds the entry for a test at now: the first one that protects
// it, else the first expired one that names it. ok is false when no entry
// names it.
func (l *List) Lookup(testID string, now time.Time) (e Entry, ok bool) {
	if l == nil {
		return Entry{}, false
	}
	for _, c := range l.Entries {
		if !c.Matches(testID) {
			continue
		}
		if !c.Expired(now) {
			return c, true
		}
		if !ok {
			e, ok = c, true
		}
	}
	return e, ok
}

// Excuses finds the entry that excuses the test's failure at now: the
// first that names it and has not expired. The report and the run's
// failure limit both judge by it, at the run's start.
func (l *List) Excuses(testID string, now time.Time) (Entry, bool) {
	e, ok := l.Lookup(testID, now)
	if !ok || e.Expired(now) {
		return Entry{}, false
	}
	return e, true
}

// Unmatched checks every entry against the collected tests: an entry that
// names none of them gets an *EntryError, joined.
func (l *List) Unmatched(testIDs []string) error {
	var errs []error
	for _, e := range l.unmatched(testIDs) {
		errs = append(errs, &EntryError{l.name(e) + ": matches no collected test; fix the test id or pattern, or remove the entry"})
	}
	return errors.Join(errs...)
}

// unmatchedExamples is how many entries UnmatchedLine names.
const unmatchedExamples = 3

// UnmatchedLine is the warning, in one line, for the entries that name
// none of the tests a selection collected: they may name tests outside
// it, so they are no error there. "" when every entry names one.
func (l *List) UnmatchedLine(testIDs []string) string {
	un := l.unmatched(testIDs)
	if len(un) == 0 {
		return ""
	}
	names := make([]string, 0, unmatchedExamples+1)
	for _, e := range un[:min(len(un), unmatchedExamples)] {
		names = append(names, entryName(e))
	}
	if len(un) > unmatchedExamples {
		names = append(names, "…")
	}
	return fmt.Sprintf("%s: %d of %d entries match no test of this selection (%s); they apply to runs that collect their tests",
		l.Path, len(un), len(l.Entries), strings.Join(names, ", "))
}

// unmatched are the entries that name none of testIDs.
func (l *List) unmatched(testIDs []string) []Entry {
	if l == nil {
		return nil
	}
	var out []Entry
	for _, e := range l.Entries {
		found := false
		for _, id := range testIDs {
			if e.Matches(id) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, e)
		}
	}
	return out
}

// Expired are the entries past their date at now.
func (l *List) Expired(now time.Time) []Entry {
	if l == nil {
		return nil
	}
	var out []Entry
	for _, e := range l.Entries {
		if e.Expired(now) {
			out = append(out, e)
		}
	}
	return out
}

// ExpiredLine is the warning an expired entry gets.
func (l *List) ExpiredLine(e Entry) string {
	return fmt.Sprintf("%s: quarantine expired after %s, so its failures count again; fix the test, or move until forward with a reason",
		l.name(e), e.Until)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
