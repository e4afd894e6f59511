// Package rerun reads the failed and errored tests of an earlier run's
// JUnit XML report and finds them again among the tests discovered now, so
// that a run can repeat only what did not pass (--rerun-failed).
//
// The report may be k8s-testrun's own, whose testcases carry pytest's node
// id in a property (junit.PropertyTestID), or plain pytest's --junitxml,
// which names a test only by classname ("tests.test_basic.TestK") and name
// ("test_x[param]"). Such names are never turned back into paths: each
// discovered node id is turned into the names pytest would give it, and the
// report's names are looked up among those.
package rerun

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// MaxReportSize bounds the report read, so that a huge or endless file
// cannot grow the process without bound. Captured output makes reports
// large; 256 MiB holds far more than k8s-testrun ever writes.
const MaxReportSize = 256 << 20

// maxReportSize is MaxReportSize, lowered by tests.
var maxReportSize int64 = MaxReportSize

// Test is one failed or errored test of a report.
type Test struct {
	// Classname and Name are the testcase's attributes.
	Classname, Name string
	// TestID is pytest's node id when the report recorded it (k8s-testrun's
	// own reports do); empty for plain pytest's.
	TestID string
}

// String names the test as the report does: its node id when known, else
// classname::name.
func (t Test) String() string {
	if t.TestID != "" {
		return t.TestID
	}
	if t.Classname == "" {
		return t.Name
	}
	return t.Classname + "::" + t.Name
}

// Report is what an earlier report says about its tests.
type Report struct {
	// Tests counts the testcase elements read.
	Tests int
	// Failed are the failed and errored tests (a test k8s-testrun could not
	// run is an error too), each once, in the report's order.
	Failed []Test
}

// FileError is a report that cannot be used; Problem says why.
type FileError struct {
	Path    string
	Problem string
	Err     error
}

func (e *FileError) Error() string { return e.Problem }

func (e *FileError) Unwrap() error { return e.Err }

// Load reads the report at path.
func Load(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		problem := "cannot be read"
		if errors.Is(err, os.ErrNotExist) {
			problem = "does not exist"
		} else if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			problem = "cannot be read: " + pe.Err.Error()
		}
		return nil, &FileError{Path: path, Problem: problem, Err: err}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &FileError{Path: path, Problem: "is a directory"}
	}
	rep, err := Read(f)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			fe.Path = path
		}
		return nil, err
	}
	return rep, nil
}

// MaxDepth bounds how deeply a report's elements nest. JUnit reports nest
// a handful of levels (testsuites, testsuite, testcase, properties,
// property); the XML decoder keeps every open element, so a report nested
// millions deep would hold gigabytes.
const MaxDepth = 100

// Read reads a JUnit XML report whose root is <testsuites> or <testsuite>,
// with testcases in any suite at any depth. It reads at most MaxReportSize
// bytes, nested at most MaxDepth elements deep, as a stream of tokens, and
// keeps only the names of the failed tests.
func Read(r io.Reader) (*Report, error) {
	lr := &io.LimitedReader{R: r, N: maxReportSize + 1}
	d := xml.NewDecoder(lr)
	rep := &Report{}
	seen := map[Test]bool{}
	root := ""
	depth := 0
	// The testcase being read: its depth (0: none), whether it failed, and
	// whether its <properties> is open.
	var (
		tc      Test
		tcDepth int
		failed  bool
		inProps bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if lr.N <= 0 {
				return nil, &FileError{Problem: fmt.Sprintf("is larger than %d MiB", maxReportSize>>20)}
			}
			return nil, &FileError{Problem: "is not a JUnit XML report: " + err.Error(), Err: err}
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > MaxDepth {
				return nil, &FileError{Problem: fmt.Sprintf("is not a JUnit XML report: its elements are nested deeper than %d levels", MaxDepth)}
			}
			if root == "" {
				root = el.Name.Local
				if root != "testsuites" && root != "testsuite" {
					return nil, &FileError{Problem: fmt.Sprintf("is not a JUnit XML report: its root element is <%s>, not <testsuites> or <testsuite>", root)}
				}
				continue
			}
			switch {
			case tcDepth == 0 && el.Name.Local == "testcase":
				tc, tcDepth, failed, inProps = Test{Classname: attr(el, "classname"), Name: attr(el, "name")}, depth, false, false
			case tcDepth == 0:
			case depth == tcDepth+1 && (el.Name.Local == "failure" || el.Name.Local == "error"):
				failed = true
			case depth == tcDepth+1 && el.Name.Local == "properties":
				inProps = true
			case depth == tcDepth+2 && inProps && el.Name.Local == "property":
				if attr(el, "name") == junit.PropertyTestID && tc.TestID == "" {
					tc.TestID = attr(el, "value")
				}
			}
		case xml.EndElement:
			switch {
			case depth == tcDepth:
				rep.Tests++
				// pytest writes a test that fails and then errors in
				// teardown as two testcases of the same names.
				if failed && !seen[tc] {
					seen[tc] = true
					rep.Failed = append(rep.Failed, tc)
				}
				tcDepth = 0
			case depth == tcDepth+1:
				inProps = false
			}
			depth--
		}
	}
	if root == "" {
		return nil, &FileError{Problem: "is not a JUnit XML report: it has no root element"}
	}
	return rep, nil
}

// attr is the value of el's attribute name (in no namespace), or "".
func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// Selection is what a report's failed tests come to among the tests
// discovered now.
type Selection struct {
	// IDs are the discovered node ids to run, in discovery order.
	IDs []string
	// Missing are the report's tests that match no discovered test: they
	// were removed or renamed since, or the selection leaves them out.
	Missing []Test
}

// Match finds the failed tests among discovered, pytest's node ids. A test
// with a recorded node id matches that id only. Otherwise its classname and
// name are compared with those pytest gives each discovered id; when none
// is equal, a classname that differs only by leading packages (pytest run
// from another rootdir, or with junit_prefix) matches, if exactly one
// classname of that name does.
func Match(failed []Test, discovered []string) Selection {
	type key struct{ classname, name string }
	known := make(map[string]bool, len(discovered))
	byKey := make(map[key][]string, len(discovered))
	byName := make(map[string][]string, len(discovered))
	for _, id := range discovered {
		known[id] = true
		c, n := junit.Names(id)
		byKey[key{c, n}] = append(byKey[key{c, n}], id)
		byName[n] = append(byName[n], id)
	}
	want := map[string]bool{}
	var sel Selection
	for _, t := range failed {
		var ids []string
		switch {
		case t.TestID != "":
			if known[t.TestID] {
				ids = []string{t.TestID}
			}
		default:
			if ids = byKey[key{t.Classname, t.Name}]; len(ids) == 0 {
				ids = bySuffix(byName[t.Name], t.Classname)
			}
		}
		if len(ids) == 0 {
			sel.Missing = append(sel.Missing, t)
			continue
		}
		for _, id := range ids {
			want[id] = true
		}
	}
	for _, id := range discovered {
		if want[id] {
			sel.IDs = append(sel.IDs, id)
			delete(want, id)
		}
	}
	return sel
}

// bySuffix returns the ids whose classname and classname are the same
// dotted path but for leading components, provided they all share one
// classname; else none.
func bySuffix(ids []string, classname string) []string {
	var out []string
	match := ""
	for _, id := range ids {
		c, _ := junit.Names(id)
		if !dottedSuffix(c, classname) && !dottedSuffix(classname, c) {
			continue
		}
		if match != "" && c != match {
			return nil
		}
		match = c
		out = append(out, id)
	}
	return out
}

// dottedSuffix reports whether short is long with leading components
// removed: "tests.test_a" of "proj.tests.test_a".
func dottedSuffix(short, long string) bool {
	return short != "" && strings.HasSuffix(long, "."+short)
}
