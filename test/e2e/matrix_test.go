//go:build e2e

package e2e

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// readReports reads a merged report of any number of testsuites as
// written (see readReport).
func readReports(t *testing.T, path string) junit.Testsuites {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "reading the JUnit report")
	var ts junit.Testsuites
	require.NoError(t, xml.Unmarshal(b, &ts))
	return ts
}

// matrixBase is the second Python base of the runtime-matrix tests, of
// another Python and pytest than c.BaseImage. Like Connect, it fails
// rather than skips without one.
func matrixBase(t *testing.T) string {
	t.Helper()
	v := os.Getenv(EnvMatrixBaseImage)
	require.NotEmpty(t, v, "the runtime-matrix tests need %s (the local cluster's env file sets it)", EnvMatrixBaseImage)
	return v
}

func suiteProp(s junit.Testsuite, name string) string {
	for _, p := range s.Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// TestRuntimeMatrix runs the sample on two Debian bases, bookworm (Python
// 3.11, pytest 7) and trixie (Python 3.13, pytest 8), in one run: one
// JUnit with a testsuite per base named by the base and its versions, 12
// testcases each with the verdicts and messages of plain pytest in that
// base's image, exit 1, and the matrix in the terminal summary.
func TestRuntimeMatrix(t *testing.T) {
	c := Connect(t)
	other := matrixBase(t)
	ns := c.NewNamespace(t, "e2e-matrix")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--base-image", c.BaseImage, "--base-image", other), Testdata("sample"))...)
	assert.Equal(t, 1, res.Exit, "the sample has failing tests on both bases: exit 1\nstderr:\n%s", res.Stderr)
	c.RequireNoRunPods(t, ns)

	ts := readReports(t, report)
	require.Len(t, ts.Suites, 2, "one testsuite per base")
	for i, want := range []struct{ base, python, pytest string }{
		{c.BaseImage, "Python 3.11", "pytest 7"}, {other, "Python 3.13", "pytest 8"},
	} {
		s := ts.Suites[i]
		assert.Contains(t, s.Name, want.base)
		assert.Contains(t, s.Name, want.python)
		assert.Contains(t, s.Name, want.pytest)
		require.Len(t, s.Testcases, 12, s.Name)

		image := suiteProp(s, "k8s-testrun.image")
		require.NotEmpty(t, image, s.Name)
		plain := c.plainPytest(t, c.NewNamespace(t, "e2e-matrix-plain"), image)
		require.Len(t, plain.Suites, 1, "plain pytest in %s", image)
		requireSameAsPlain(t, byKey(plain), byKey(junit.Testsuites{Suites: []junit.Testsuite{s}}))
	}
	assert.Contains(t, res.Stdout, "== runtime matrix ==")
	assert.Contains(t, res.Stdout, "Python 3.11: 2 failed, 7 passed, 2 skipped, 1 error (12 tests)")
	assert.Contains(t, res.Stdout, "Python 3.13: 2 failed, 7 passed, 2 skipped, 1 error (12 tests)")
	assert.Contains(t, res.Stdout, "every test has the same verdict on every base")
	assert.Contains(t, res.Stdout, "4 failed, 14 passed, 4 skipped, 2 errors")
	assert.Contains(t, res.Stdout, "FAILED tests/test_basic.py::test_fails_with_message  at tests/test_basic.py:8  [Python 3.13]")
}

// TestActionRuntimeMatrix runs testdata/matrix, whose verdicts differ by
// version, as the action with two base_image lines: the job summary's
// matrix table, one annotation per failure per version, and the matrix
// output.
func TestActionRuntimeMatrix(t *testing.T) {
	c := Connect(t)
	other := matrixBase(t)
	ns := c.NewNamespace(t, "e2e-action-matrix")
	api, srv := newChecksAPI(t, false)
	s := c.actionStep(t, srv.URL, ns, "testdata/matrix", map[string]string{
		"base_image": c.BaseImage + "\n" + other + "\n", "pod_per": "file",
	})

	res := c.RunCLI(Context(t, 8*time.Minute), t, s.env, "action")
	require.Equal(t, 1, res.Exit, "a test fails on Python 3.13\nstderr:\n%s", res.Stderr)
	c.RequireNoRunPods(t, ns)

	md, err := os.ReadFile(s.summary)
	require.NoError(t, err)
	summary := string(md)
	assert.Contains(t, summary, "#### Runtime matrix")
	assert.Contains(t, summary, "| `Python 3.11` | 2 | 0 | 0 | 1 | 0 | 3 |")
	assert.Contains(t, summary, "| `Python 3.13` | 2 | 1 | 0 | 0 | 0 | 3 |")
	assert.Contains(t, summary, "| Test | `Python 3.11` | `Python 3.13` |")
	assert.Contains(t, summary, "| `tests/test_versions.py::test_before_python_3_13` | ✅ passed | ❌ failed |")
	assert.Contains(t, summary, "| `tests/test_versions.py::test_pytest_8` | ⏭️ skipped | ✅ passed |")
	assert.NotContains(t, summary, "test_everywhere` | ✅", "a test with one verdict everywhere is not a row")

	var counts []struct {
		Base   string `json:"base"`
		Python string `json:"python"`
		Total  int    `json:"total"`
		Passed int    `json:"passed"`
		Failed int    `json:"failed"`
	}
	require.NoError(t, json.Unmarshal([]byte(readOutputs(t, s.output)["matrix"]), &counts))
	require.Len(t, counts, 2)
	assert.Equal(t, c.BaseImage, counts[0].Base)
	assert.True(t, strings.HasPrefix(counts[0].Python, "3.11."), counts[0].Python)
	assert.Equal(t, 3, counts[0].Total)
	assert.Equal(t, 1, counts[1].Failed)
	assert.Equal(t, "6", readOutputs(t, s.output)["total"], "totals count every base")

	var titles []string
	for _, r := range api.Got() {
		out, ok := r.Body["output"].(map[string]any)
		if !ok {
			continue
		}
		list, _ := out["annotations"].([]any)
		for _, a := range list {
			titles = append(titles, a.(map[string]any)["title"].(string))
		}
	}
	assert.Equal(t, []string{"FAILED tests/test_versions.py::test_before_python_3_13 [Python 3.13]"}, titles)
}

// testMatrix runs testdata/matrix in operator mode on the two bases: the
// TestRun's bases, a TestCase per test and base, status.bases with each
// base's versions, and the same testsuites and matrix as direct mode.
func (e *opEnv) testMatrix(t *testing.T) {
	ctx := Context(t, 8*time.Minute)
	other := matrixBase(t)
	report := filepath.Join(t.TempDir(), "operator.xml")
	res := e.c.RunCLI(ctx, t, nil, "run", "--mode", "operator", "--namespace", e.ns, "--repository", e.c.Repository(t),
		"--base-image", e.c.BaseImage, "--base-image", other, "--junit", report, Testdata("matrix"))
	assert.Equal(t, 1, res.Exit, "a test fails on Python 3.13\nstderr:\n%s", res.Stderr)
	assert.Contains(t, res.Stdout, "tests/test_versions.py::test_before_python_3_13  passed       FAILED")
	assert.Contains(t, res.Stdout, "Python 3.13: 1 failed, 2 passed (3 tests)")

	ts := readReports(t, report)
	require.Len(t, ts.Suites, 2)
	assert.Contains(t, ts.Suites[0].Name, "Python 3.11")
	assert.Contains(t, ts.Suites[1].Name, "Python 3.13")
	for _, s := range ts.Suites {
		assert.Len(t, s.Testcases, 3, s.Name)
	}

	list := &v1alpha1.TestRunList{}
	require.NoError(t, e.cr.List(ctx, list, client.InNamespace(e.ns)))
	var mine *v1alpha1.TestRun
	for i := range list.Items {
		if strings.HasPrefix(list.Items[i].Name, "matrix-") {
			mine = &list.Items[i]
		}
	}
	require.NotNil(t, mine, "the run stays in the cluster")
	require.Len(t, mine.Spec.Bases, 2)
	assert.Equal(t, []string{e.c.BaseImage, other}, []string{mine.Spec.Bases[0].Name, mine.Spec.Bases[1].Name})
	require.Len(t, mine.Status.Bases, 2)
	assert.True(t, strings.HasPrefix(mine.Status.Bases[1].Python, "3.13."), mine.Status.Bases[1].Python)
	assert.Equal(t, int32(3), mine.Status.Bases[1].Total)
	assert.Equal(t, []int32{6, 4, 1, 1}, []int32{mine.Status.Total, mine.Status.Passed, mine.Status.Failed, mine.Status.Skipped})
	tcs := &v1alpha1.TestCaseList{}
	require.NoError(t, e.cr.List(ctx, tcs, client.InNamespace(e.ns), client.MatchingLabels{"k8s-testrun.io/run": mine.Name}))
	perBase := map[int32]int{}
	for _, tc := range tcs.Items {
		perBase[tc.Spec.Base]++
		assert.Equal(t, mine.Spec.Bases[tc.Spec.Base].Image, tc.Spec.Image, tc.Name)
	}
	assert.Equal(t, map[int32]int{0: 3, 1: 3}, perBase, "a TestCase per test and base")
	e.noPods(ctx, t, mine.Name)
}
