package bench

import (
	"archive/tar"
	"compress/gzip"
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
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

func writeTarGz(t *testing.T, files map[string]string, dirs ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, d := range dirs {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir}))
	}
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return path
}

func TestExtractTests(t *testing.T) {
	tarPath := writeTarGz(t, map[string]string{
		"./usr/lib/python3/dist-packages/pyflakes/test/__init__.py":    "",
		"./usr/lib/python3/dist-packages/pyflakes/test/test_api.py":    "def test_a(): pass\n",
		"./usr/lib/python3/dist-packages/pyflakes/test/sub/test_x.py":  "nested: left out\n",
		"./usr/lib/python3/dist-packages/pyflakes/checker.py":          "not a test\n",
		"./usr/lib/python3/dist-packages/pyflakes/test_outside_dir.py": "not under test/\n",
	}, "./usr/lib/python3/dist-packages/pyflakes/test/")
	dest := filepath.Join(t.TempDir(), "tests")
	n, err := extractTests(tarPath, realSuiteTests, dest)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	entries, err := os.ReadDir(dest)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"__init__.py", "test_api.py"}, names)
	b, err := os.ReadFile(filepath.Join(dest, "test_api.py"))
	require.NoError(t, err)
	assert.Equal(t, "def test_a(): pass\n", string(b))

	_, err = extractTests(tarPath, "usr/lib/python3/dist-packages/absent/", t.TempDir())
	require.ErrorContains(t, err, "has no files under /usr/lib/python3/dist-packages/absent/")
}

func TestPhaseClock(t *testing.T) {
	c := newPhaseClock(markDiscover, markRun)
	start := time.Now()
	_, err := c.Write([]byte("k8s-testrun: building the test image\nk8s-testrun: discov"))
	require.NoError(t, err)
	assert.True(t, c.mark(markDiscover).IsZero(), "a line counts once it is whole")
	assert.Equal(t, "phases not found in the progress lines", c.phases(start, time.Second))
	_, err = c.Write([]byte("ering tests\n"))
	require.NoError(t, err)
	d := c.mark(markDiscover)
	require.False(t, d.IsZero())
	_, err = c.Write([]byte("k8s-testrun: running 25 tests, 4 pods at once (run 1)\nk8s-testrun: discovering tests\n"))
	require.NoError(t, err)
	assert.Equal(t, d, c.mark(markDiscover), "the first line of a kind counts")
	assert.False(t, c.mark(markRun).Before(d))
	assert.Regexp(t, `^start\+build [0-9.]+s, discover [0-9.]+s, run\+report\+cleanup [0-9.]+s$`, c.phases(start, time.Minute))
}

func TestPytestSessionTime(t *testing.T) {
	out := "....F\nFAILED tests/test_api.py::IntegrationTests::test_goodFile - AssertionError\n5 failed, 723 passed, 18 skipped in 2.53s\n"
	assert.Equal(t, "2.53s", pytestSessionTime(out))
	assert.Equal(t, "?", pytestSessionTime("no summary\n"))
}

func TestShellQuote(t *testing.T) {
	assert.Equal(t, `'a b'`, shellQuote("a b"))
	assert.Equal(t, `'it'\''s'`, shellQuote("it's"))
}

const plainXML = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3" time="0.1">
<testcase classname="tests.test_api.IntegrationTests" name="test_goodFile" time="0.01"><failure message="AssertionError: Tuples differ">trace</failure></testcase>
<testcase classname="tests.test_other.Test" name="test_x" time="0.01"/>
<testcase classname="tests.test_other.Test" name="test_skip" time="0.0"><skipped type="pytest.skip" message="not on 3.11">why</skipped></testcase>
</testsuite></testsuites>`

var plainIDs = []string{
	"tests/test_api.py::IntegrationTests::test_goodFile",
	"tests/test_other.py::Test::test_x",
	"tests/test_other.py::Test::test_skip",
}

func TestPlainVerdictsAndDiff(t *testing.T) {
	plain, err := junit.Parse(strings.NewReader(plainXML))
	require.NoError(t, err)
	ref, notes, err := plainVerdicts(plain, plainIDs)
	require.NoError(t, err)
	assert.Equal(t, []string{"discovery: the 3 test ids k8s-testrun discovers are the 3 tests plain pytest runs"}, notes)
	assert.Equal(t, "failed 1, passed 1, skipped 1", verdictCounts(ref))

	_, _, err = plainVerdicts(plain, plainIDs[:2])
	require.ErrorContains(t, err, "plain pytest ran 3 tests, k8s-testrun discovered 2")
	_, _, err = plainVerdicts(plain, append(plainIDs, "tests/test_other.py::Test::test_absent"))
	require.ErrorContains(t, err, "1 discovered tests are not in plain pytest's JUnit file, e.g. tests/test_other.py::Test::test_absent")

	// The same verdicts, however reached, are no difference; a changed
	// verdict and a missing test are.
	same := map[string]junit.Testcase{}
	for id, tc := range ref {
		same[id] = tc
	}
	assert.Empty(t, diffVerdicts(plainIDs, ref, same))
	other := map[string]junit.Testcase{
		plainIDs[0]: {Name: "test_goodFile"},
		plainIDs[1]: {Name: "test_x", Error: &junit.Result{Type: "OOMKilled", Message: "the pod ran out of memory"}},
	}
	assert.Equal(t, []string{
		"  tests/test_api.py::IntegrationTests::test_goodFile: plain pytest failed (AssertionError: Tuples differ), here passed",
		"  tests/test_other.py::Test::test_x: plain pytest passed, here error (OOMKilled the pod ran out of memory)",
		"  tests/test_other.py::Test::test_skip: plain pytest skipped, here not in the report",
	}, diffVerdicts(plainIDs, ref, other))
}

func TestRunnerReportMatchesPlain(t *testing.T) {
	plain, err := junit.Parse(strings.NewReader(plainXML))
	require.NoError(t, err)
	ref, _, err := plainVerdicts(plain, plainIDs)
	require.NoError(t, err)
	results := make([]report.CaseResult, len(plainIDs))
	for i, c := range Cases(plainIDs) {
		own := ref[c.TestID]
		status := own.Status()
		results[i] = report.CaseResult{Case: c, Status: status, Final: true, Attempts: []attempt.Attempt{{
			Number: 1, Outcome: plan.Outcome{Status: status}, Results: attempt.Results{Testcase: &own},
		}}}
	}
	rep := report.NewReport("fidelity", "img", "", time.Time{}, 0, results).JUnit()
	got := map[string]junit.Testcase{}
	for _, id := range plainIDs {
		tc, ok := junit.Find(rep, id)
		require.True(t, ok, id)
		got[id] = tc
	}
	assert.Empty(t, diffVerdicts(plainIDs, ref, got))

	line, err := checkRealResults(results)
	require.NoError(t, err)
	assert.Equal(t, "failed 1, passed 1, skipped 1", line)
	results[1].Attempts[0].Outcome = plan.Outcome{Status: plan.Error, Reason: "OOMKilled"}
	_, err = checkRealResults(results)
	require.ErrorContains(t, err, "OOMKilled")
}

func TestCheckExitCodesAndAgreement(t *testing.T) {
	exits := map[string]int32{plainIDs[0]: 1, plainIDs[1]: 0, plainIDs[2]: 0}
	line, err := checkExitCodes(plainIDs, exits)
	require.NoError(t, err)
	assert.Equal(t, "exit 0: 2, exit 1: 1", line)
	_, err = checkExitCodes(plainIDs, map[string]int32{plainIDs[0]: 1, plainIDs[1]: 0})
	require.ErrorContains(t, err, "no exit code seen")
	_, err = checkExitCodes(plainIDs[:1], map[string]int32{plainIDs[0]: 4})
	require.ErrorContains(t, err, "pytest exited 4")

	results := []report.CaseResult{
		{Case: Cases(plainIDs)[0], Status: plan.Failed},
		{Case: Cases(plainIDs)[1], Status: plan.Passed},
		{Case: Cases(plainIDs)[2], Status: plan.Failed},
	}
	assert.Equal(t, []string{
		"runner verdicts against bare pods' exit codes, test by test: 1 differ",
		"  tests/test_other.py::Test::test_skip: runner failed, bare pod exit 0",
	}, perTestAgreement(results, exits))
}

func TestLimitLines(t *testing.T) {
	assert.Equal(t, []string{"a", "b"}, limitLines([]string{"a", "b"}, 2))
	assert.Equal(t, []string{"a", "  ... and 2 more"}, limitLines([]string{"a", "b", "c"}, 1))
}

func TestSampleIDs(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	assert.Equal(t, []string{"a", "c", "e", "g", "i"}, SampleIDs(ids, 5))
	assert.Equal(t, []string{"a", "d", "g"}, SampleIDs(ids, 3))
	assert.Equal(t, ids, SampleIDs(ids, 0))
	assert.Equal(t, ids, SampleIDs(ids, 10))
	assert.Equal(t, ids, SampleIDs(ids, 99))
}
