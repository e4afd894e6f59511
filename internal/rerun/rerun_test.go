package rerun

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// sampleIDs are the node ids pytest collects in testdata/sample.
var sampleIDs = []string{
	"tests/test_basic.py::test_passes",
	"tests/test_basic.py::test_fails_with_message",
	"tests/test_basic.py::test_skipped",
	"tests/test_basic.py::test_xfail",
	"tests/test_basic.py::test_xpass",
	"tests/test_basic.py::test_param[a b]",
	"tests/test_basic.py::test_param[x[1]]",
	"tests/test_basic.py::test_param[with::colons]",
	"tests/test_classes.py::TestArithmetic::test_add",
	"tests/test_classes.py::TestArithmetic::test_sub_fails",
	"tests/test_classes.py::test_writes_artifact",
	"tests/test_fixtures.py::test_uses_broken_fixture",
}

func TestPlainPytestReportOfTheSample(t *testing.T) {
	rep, err := Load(filepath.Join("testdata", "pytest-sample.xml"))
	require.NoError(t, err)
	assert.Equal(t, 12, rep.Tests)
	assert.Equal(t, []Test{
		{Classname: "tests.test_basic", Name: "test_fails_with_message"},
		{Classname: "tests.test_classes.TestArithmetic", Name: "test_sub_fails"},
		{Classname: "tests.test_fixtures", Name: "test_uses_broken_fixture"},
	}, rep.Failed, "failures and the setup error; skips and xfails are not failures")

	sel := Match(rep.Failed, sampleIDs)
	assert.Equal(t, []string{
		"tests/test_basic.py::test_fails_with_message",
		"tests/test_classes.py::TestArithmetic::test_sub_fails",
		"tests/test_fixtures.py::test_uses_broken_fixture",
	}, sel.IDs)
	assert.Empty(t, sel.Missing)
}

func TestPlainPytestReportNestedParametrizedAndRemoved(t *testing.T) {
	rep, err := Load(filepath.Join("testdata", "pytest-nested.xml"))
	require.NoError(t, err)
	assert.Equal(t, 7, rep.Tests)
	require.Len(t, rep.Failed, 5, "a failure and a teardown error of one test count once")

	discovered := []string{
		"pkg/unit/api/test_handlers.py::TestGet::test_missing[404-not found]",
		"pkg/unit/api/test_handlers.py::TestGet::test_missing[410-gone]",
		"pkg/unit/api/test_handlers.py::TestGet::TestNested::test_deep",
		"pkg/unit/test_db.py::test_setup_error",
		"pkg/unit/test_db.py::test_teardown_after_failure",
		"pkg/unit/test_db.py::test_new",
	}
	sel := Match(rep.Failed, discovered)
	assert.Equal(t, []string{
		"pkg/unit/api/test_handlers.py::TestGet::test_missing[404-not found]",
		"pkg/unit/api/test_handlers.py::TestGet::TestNested::test_deep",
		"pkg/unit/test_db.py::test_setup_error",
		"pkg/unit/test_db.py::test_teardown_after_failure",
	}, sel.IDs, "in discovery order, the passing parameter left out")
	assert.Equal(t, []Test{{Classname: "pkg.unit.test_removed", Name: "test_gone"}}, sel.Missing)
	assert.Equal(t, "pkg.unit.test_removed::test_gone", sel.Missing[0].String())
}

func TestPytestRunFromAnotherRootdir(t *testing.T) {
	failed := []Test{
		{Classname: "project.tests.test_basic", Name: "test_x[1]"},
		{Classname: "test_basic.TestK", Name: "test_y"},
	}
	sel := Match(failed, []string{
		"tests/test_basic.py::test_x[1]",
		"tests/test_basic.py::test_x[2]",
		"tests/test_basic.py::TestK::test_y",
	})
	assert.Equal(t, []string{"tests/test_basic.py::test_x[1]", "tests/test_basic.py::TestK::test_y"}, sel.IDs)
	assert.Empty(t, sel.Missing)

	// Two classnames could be meant: neither is guessed.
	sel = Match([]Test{{Classname: "test_a", Name: "test_z"}}, []string{"x/test_a.py::test_z", "y/test_a.py::test_z"})
	assert.Empty(t, sel.IDs)
	assert.Len(t, sel.Missing, 1)
}

// TestOwnReport reads a report as k8s-testrun writes it: the node id
// property decides, also where classname and name would be ambiguous.
func TestOwnReport(t *testing.T) {
	ids := []string{
		"tests/a/b.py::test_f",  // classname tests.a.b
		"tests/a.py::b::test_f", // classname tests.a.b as well
		"tests/test_p.py::test_p[x::y]",
		"tests/test_p.py::test_ok",
		"tests/test_p.py::test_notrun",
	}
	failed := plan.Outcome{Status: plan.Failed, ExitCode: 1}
	errored := plan.Outcome{Status: plan.Error, ExitCode: -1, Reason: "OOMKilled", Message: "out of memory"}
	passed := plan.Outcome{Status: plan.Passed}
	var results []report.CaseResult
	for i, id := range ids {
		cr := report.CaseResult{Case: plan.Case{ID: testid.CaseID(id), TestID: id}, Final: true}
		o := []plan.Outcome{passed, failed, errored, passed}[min(i, 3)]
		if i < 4 {
			cr.Status = o.Status
			cr.Attempts = []attempt.Attempt{{Number: 1, Outcome: o}}
		}
		results = append(results, cr)
	}
	var buf bytes.Buffer
	require.NoError(t, report.NewReport("r1", "img", "", time.Now(), time.Second, results).WriteJUnit(&buf))

	rep, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Tests)
	require.Len(t, rep.Failed, 3)
	for _, f := range rep.Failed {
		assert.NotEmpty(t, f.TestID, "the report records the node id of %s", f)
	}
	sel := Match(rep.Failed, ids)
	assert.Equal(t, []string{"tests/a.py::b::test_f", "tests/test_p.py::test_p[x::y]", "tests/test_p.py::test_notrun"}, sel.IDs,
		"the failure, the infrastructure error and the test that never ran; not its namesake")
	assert.Empty(t, sel.Missing)

	sel = Match(rep.Failed, ids[2:])
	assert.Equal(t, []string{"tests/test_p.py::test_p[x::y]", "tests/test_p.py::test_notrun"}, sel.IDs)
	require.Len(t, sel.Missing, 1, "a recorded id that is gone is missing, not matched by its names")
	assert.Equal(t, "tests/a.py::b::test_f", sel.Missing[0].String())
}

func TestNoFailures(t *testing.T) {
	rep, err := Read(strings.NewReader(`<testsuites><testsuite name="pytest" tests="2"><testcase classname="t" name="a"/><testcase classname="t" name="b"><skipped/></testcase></testsuite></testsuites>`))
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Tests)
	assert.Empty(t, rep.Failed)
	assert.Empty(t, Match(rep.Failed, []string{"t.py::a"}).IDs)
}

func TestUnusableFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	for _, tc := range []struct {
		name, path, problem string
	}{
		{"missing", filepath.Join(dir, "nope.xml"), "does not exist"},
		{"directory", dir, "is a directory"},
		{"empty", write("empty.xml", ""), "is not a JUnit XML report: it has no root element"},
		{"html", write("page.xml", "<html><body>hi</body></html>"), "its root element is <html>"},
		{"json", write("report.json", `{"tests": []}`), "is not a JUnit XML report"},
		{"truncated", write("cut.xml", `<testsuites><testsuite><testcase classname="a" name="b"><failure>`), "is not a JUnit XML report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			var fe *FileError
			require.ErrorAs(t, err, &fe)
			assert.Contains(t, fe.Problem, tc.problem)
			assert.Equal(t, tc.path, fe.Path)
			assert.NotContains(t, fe.Error(), "\n")
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	p := filepath.Join(t.TempDir(), "locked.xml")
	require.NoError(t, os.WriteFile(p, []byte("<testsuites/>"), 0o000))
	_, err := Load(p)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Contains(t, fe.Problem, "cannot be read")
}

// endless is an XML document that never ends: one text node without end.
type endless struct{ started bool }

func (e *endless) Read(p []byte) (int, error) {
	if !e.started {
		e.started = true
		return copy(p, "<testsuites><testsuite><testcase classname=\"a\" name=\"b\"><system-out>"), nil
	}
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestEndlessReportIsBounded(t *testing.T) {
	defer func(n int64) { maxReportSize = n }(maxReportSize)
	maxReportSize = 2 << 20
	_, err := Read(&endless{})
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Contains(t, fe.Problem, "larger than 2 MiB")
}
