package junit

import (
	"cmp"
	"strings"
)

// Status is the verdict on one test case. It is shared by everything that
// reports on tests, so it lives in this leaf package.
type Status string

// The four verdicts JUnit can express.
const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusError   Status = "error"
	StatusSkipped Status = "skipped"
)

// Status derives the verdict from the testcase's children.
//
// pytest's mapping carries over unchanged: xfail is written as <skipped
// type="pytest.xfail"> and stays skipped; a non-strict xpass has no child
// and is passed; a strict xpass is a <failure>. A test that fails and then
// errors in teardown gets both children; the failure is the test's own
// verdict, so failed wins over error.
func (tc Testcase) Status() Status {
	switch {
	case tc.Failure != nil:
		return StatusFailed
	case tc.Error != nil:
		return StatusError
	case tc.Skipped != nil:
		return StatusSkipped
	default:
		return StatusPassed
	}
}

// Detail returns the child that decided Status, or nil for a passed test.
func (tc Testcase) Detail() *Result {
	switch tc.Status() {
	case StatusFailed:
		return tc.Failure
	case StatusError:
		return tc.Error
	case StatusSkipped:
		return tc.Skipped
	default:
		return nil
	}
}

// NewTestcase returns the classname, name and file pytest would write for
// testID, so a case that produced no JUnit of its own (its pod was OOMKilled
// or never scheduled) still lands in the report under the same names.
func NewTestcase(testID string) Testcase {
	classname, name := names(testID)
	file, _, _ := strings.Cut(testID, "::")
	return Testcase{Classname: classname, Name: name, File: file}
}

// Find returns the testcase pytest wrote for testID. It matches classname and
// name as pytest derives them from the node id, and falls back to a match on
// name alone when a single classname carries it, which survives a different
// rootdir or junit_prefix.
//
// pytest writes a second testcase element with the same names when a test
// fails and then errors in teardown; Find folds such repeats into one, so
// Status sees every child.
func Find(ts Testsuites, testID string) (Testcase, bool) {
	classname, name := names(testID)
	var exact, byName []Testcase
	for _, s := range ts.Suites {
		for _, tc := range s.Testcases {
			switch {
			case tc.Name != name:
			case tc.Classname == classname:
				exact = append(exact, tc)
			default:
				byName = append(byName, tc)
			}
		}
	}
	if len(exact) > 0 {
		return fold(exact), true
	}
	for _, tc := range byName[min(1, len(byName)):] {
		if tc.Classname != byName[0].Classname {
			return Testcase{}, false
		}
	}
	if len(byName) > 0 {
		return fold(byName), true
	}
	return Testcase{}, false
}

// fold merges repeated testcase elements of one test: the first one's
// attributes, the first of each child kind, and the sum of their times.
func fold(tcs []Testcase) Testcase {
	out := tcs[0]
	total := out.Duration()
	for _, tc := range tcs[1:] {
		total += tc.Duration()
		out.Failure = cmp.Or(out.Failure, tc.Failure)
		out.Error = cmp.Or(out.Error, tc.Error)
		out.Skipped = cmp.Or(out.Skipped, tc.Skipped)
		out.SystemOut = cmp.Or(out.SystemOut, tc.SystemOut)
		out.SystemErr = cmp.Or(out.SystemErr, tc.SystemErr)
		out.Properties = append(out.Properties[:len(out.Properties):len(out.Properties)], tc.Properties...)
	}
	if len(tcs) > 1 {
		out.Time = Seconds(total)
	}
	return out
}

// names mirrors pytest's junitxml.mangle_test_address: the id is cut at its
// first "[" (parameters may hold "::" and brackets), the rest split on "::",
// and the file path becomes a dotted module name.
func names(testID string) (classname, name string) {
	path, params, hasParams := strings.Cut(testID, "[")
	parts := strings.Split(path, "::")
	parts[0] = strings.TrimSuffix(strings.ReplaceAll(parts[0], "/", "."), ".py")
	if hasParams {
		parts[len(parts)-1] += "[" + params
	}
	return strings.Join(parts[:len(parts)-1], "."), parts[len(parts)-1]
}

// Names returns the classname and name pytest's JUnit gives testID, as
// NewTestcase and Find derive them.
func Names(testID string) (classname, name string) { return names(testID) }
