package report

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
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

const pytestJUnit = `<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="1" time="0.02">
<testcase classname="tests.test_basic" name="test_fails_with_message" file="tests/test_basic.py" line="8" time="0.001">
<failure message="AssertionError: expected three apples&#10;assert 1 == 3">def test_fails_with_message(): ...</failure>
</testcase></testsuite></testsuites>`

func block(t *testing.T, files ...transport.File) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("collector starting\n")
	require.NoError(t, transport.Encode(&b, files, 1<<20))
	return b.Bytes()
}

func TestReportJUnit(t *testing.T) {
	ts, err := junit.Parse(strings.NewReader(pytestJUnit))
	require.NoError(t, err)
	own := ts.Suites[0].Testcases[0]
	cases := []CaseResult{
		{
			Case: plan.Case{ID: "a", TestID: "tests/test_basic.py::test_fails_with_message"}, Status: plan.Failed, Final: true,
			Attempts: []attempt.Attempt{{Number: 1, Pod: "p1", Node: "n1", Outcome: plan.Outcome{Status: plan.Failed, ExitCode: 1, Message: "AssertionError: expected three apples\nassert 1 == 3"},
				Results: attempt.Results{Testcase: &own, Output: "captured"}}},
		},
		{
			Case: plan.Case{ID: "b", TestID: "tests/test_limits.py::test_allocates_past_memory_limit"}, Status: plan.Error, Final: true,
			Attempts: []attempt.Attempt{{Number: 2, Pod: "p2", Outcome: plan.Outcome{Status: plan.Error, ExitCode: 137, Reason: "OOMKilled", Message: "killed for exceeding its memory limit"},
				Started: time.Unix(0, 0), Finished: time.Unix(3, 0)}},
		},
		{Case: plan.Case{ID: "c", TestID: "tests/test_x.py::TestK::test_never"}},
	}
	rep := NewReport("r1", "reg/img@sha256:1", "sha256:1", time.Unix(0, 0), 5*time.Second, cases)
	out := rep.JUnit()
	require.Len(t, out.Suites, 1)
	tcs := out.Suites[0].Testcases
	require.Len(t, tcs, 3)

	assert.Equal(t, "tests/test_basic.py", tcs[0].File)
	assert.Equal(t, 9, tcs[0].Line)
	require.NotNil(t, tcs[0].Failure)
	assert.Equal(t, "AssertionError: expected three apples\nassert 1 == 3", tcs[0].Failure.Message)
	require.NotNil(t, tcs[0].SystemOut)
	assert.Equal(t, "captured", tcs[0].SystemOut.Text)
	pod, _ := tcs[0].Property(junit.PropertyPod)
	assert.Equal(t, "p1", pod)
	digest, _ := tcs[0].Property(junit.PropertyImageDigest)
	assert.Equal(t, "sha256:1", digest)

	assert.Equal(t, "tests.test_limits", tcs[1].Classname)
	assert.Equal(t, "test_allocates_past_memory_limit", tcs[1].Name)
	require.NotNil(t, tcs[1].Error)
	assert.Equal(t, "OOMKilled", tcs[1].Error.Type)
	assert.Contains(t, tcs[1].Error.Message, "OOMKilled: killed for exceeding")
	assert.Equal(t, "3.000", tcs[1].Time)
	assert.Nil(t, tcs[1].Failure)

	require.NotNil(t, tcs[2].Error)
	assert.Equal(t, "NotRun", tcs[2].Error.Type)

	var b bytes.Buffer
	require.NoError(t, rep.WriteJUnit(&b))
	assert.Contains(t, b.String(), `tests="3" failures="1" errors="2"`)
	assert.Equal(t, Counts{Total: 3, Failed: 1, Errors: 1, Infra: 1, NotRun: 1}, rep.Counts())
	assert.Equal(t, 2, rep.ExitCode(0, 1, 2))
}

func TestWriteArtifacts(t *testing.T) {
	c := plan.Case{ID: "0123456789ab", TestID: "tests/test_a.py::test_x[a b]"}
	rep := NewReport("r", "", "", time.Now(), time.Second, []CaseResult{{
		Case: c, Final: true, Status: plan.Passed,
		Attempts: []attempt.Attempt{{Number: 1, Results: attempt.Results{Artifacts: []transport.File{
			{Name: "report.txt", Data: []byte("one")},
			{Name: "sub/plot.svg", Data: []byte("<svg/>")},
		}}}},
	}})
	dir := t.TempDir()
	n, err := rep.WriteArtifacts(dir)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, "tests_test_a.py__test_x_a_b_-0123456789ab", ArtifactDir(c))
	b, err := os.ReadFile(filepath.Join(dir, ArtifactDir(c), "sub", "plot.svg"))
	require.NoError(t, err)
	assert.Equal(t, "<svg/>", string(b))

	evil := NewReport("r", "", "", time.Now(), time.Second, []CaseResult{{
		Case:     c,
		Attempts: []attempt.Attempt{{Results: attempt.Results{Artifacts: []transport.File{{Name: "../../escape", Data: []byte("x")}}}}},
	}})
	_, err = evil.WriteArtifacts(dir)
	require.Error(t, err)
	assert.NoFileExists(t, filepath.Join(dir, "escape"))
}

// TestWriteArtifactsNoSymlinks: symbolic links already in the artifacts
// directory (from a checkout, say) are never followed out of it, and a
// link where a file goes is replaced, not written through.
func TestWriteArtifactsNoSymlinks(t *testing.T) {
	c := plan.Case{ID: "0123456789ab", TestID: "tests/test_a.py::test_x"}
	report := func(name string) *Report {
		return NewReport("r", "", "", time.Now(), time.Second, []CaseResult{{
			Case: c, Final: true, Status: plan.Passed,
			Attempts: []attempt.Attempt{{Number: 1, Results: attempt.Results{Artifacts: []transport.File{{Name: name, Data: []byte("from the test")}}}}},
		}})
	}
	outside := t.TempDir()
	target := filepath.Join(outside, "bashrc")
	require.NoError(t, os.WriteFile(target, []byte("precious"), 0o644))
	unchanged := func(t *testing.T) {
		t.Helper()
		b, err := os.ReadFile(target)
		require.NoError(t, err)
		assert.Equal(t, "precious", string(b))
		entries, err := os.ReadDir(outside)
		require.NoError(t, err)
		assert.Len(t, entries, 1, "nothing new outside the artifacts directory")
	}

	t.Run("file is a link", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ArtifactDir(c)), 0o755))
		link := filepath.Join(dir, ArtifactDir(c), "report.txt")
		require.NoError(t, os.Symlink(target, link))
		n, err := report("report.txt").WriteArtifacts(dir)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		unchanged(t)
		fi, err := os.Lstat(link)
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular(), "the link is replaced by the file")
		b, err := os.ReadFile(link)
		require.NoError(t, err)
		assert.Equal(t, "from the test", string(b))
	})
	t.Run("case directory is a link", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.Symlink(outside, filepath.Join(dir, ArtifactDir(c))))
		_, err := report("new.txt").WriteArtifacts(dir)
		require.Error(t, err)
		unchanged(t)
	})
	t.Run("subdirectory is a link", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ArtifactDir(c)), 0o755))
		require.NoError(t, os.Symlink(outside, filepath.Join(dir, ArtifactDir(c), "sub")))
		_, err := report("sub/bashrc").WriteArtifacts(dir)
		require.Error(t, err)
		unchanged(t)
	})
	t.Run("relative link climbing out", func(t *testing.T) {
		dir := filepath.Join(outside, "artifacts")
		t.Cleanup(func() { os.RemoveAll(dir) })
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ArtifactDir(c)), 0o755))
		require.NoError(t, os.Symlink("../..", filepath.Join(dir, ArtifactDir(c), "up")))
		_, err := report("up/new.txt").WriteArtifacts(dir)
		require.Error(t, err)
		assert.NoFileExists(t, filepath.Join(outside, "new.txt"))
	})
	t.Run("artifacts directory is a link", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "artifacts")
		require.NoError(t, os.Symlink(outside, dir))
		_, err := report("a.txt").WriteArtifacts(dir)
		require.ErrorContains(t, err, "is a symbolic link")
		unchanged(t)
	})
}

// TestReportDropsAForeignFile: the file of a testcase comes from the pod;
// one that is not the file part of the test's ID is dropped, with its
// line, from the JUnit report and the summaries.
func TestReportDropsAForeignFile(t *testing.T) {
	const id = "tests/t.py::test_x"
	tests := []struct {
		file     string
		wantFile string
		wantLine int
	}{
		{"tests/t.py", "tests/t.py", 7},
		{"tests/t.py)\n\n## Injected\n![p](https://example.com/p.png)", "", 0},
		{"tests/other.py", "", 0},
		{"", "", 7},
	}
	for _, tt := range tests {
		own := junit.Testcase{Classname: "tests.t", Name: "test_x", File: tt.file, Line: 7}
		rep := NewReport("r", "i", "", time.Unix(0, 0), time.Second, []CaseResult{{
			Case: plan.Case{ID: "a", TestID: id}, Status: plan.Passed, Final: true,
			Attempts: []attempt.Attempt{{Number: 1, Outcome: plan.Outcome{Status: plan.Passed}, Results: attempt.Results{Testcase: &own}}},
		}})
		tcs := rep.JUnit().Suites[0].Testcases
		require.Len(t, tcs, 1)
		assert.Equal(t, tt.wantFile, tcs[0].File, "%q", tt.file)
		assert.Equal(t, tt.wantLine, tcs[0].Line, "%q", tt.file)
		sc := rep.SummaryCases()
		assert.Equal(t, tt.wantFile, sc[0].File, "%q", tt.file)
	}
}
