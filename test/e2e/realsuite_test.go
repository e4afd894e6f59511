//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// realSuitePackage is a Debian package that ships its own pytest suite:
// pyflakes, about 750 tests in 12 modules, unittest classes and classes
// inherited across modules among them, pure Python, about 3 s in one
// process. Five of them fail outside a source tree (they run its
// bin/pyflakes) and some are skipped on the image's Python.
const realSuitePackage = "python3-pyflakes"

// realSuiteProject makes a project of the package's Python tree, tests
// included, taken from the .deb as Debian's mirror serves it.
func realSuiteProject(t *testing.T) string {
	t.Helper()
	debs := t.TempDir()
	download := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "download", realSuitePackage)
		cmd.Dir = debs
		return cmd.CombinedOutput()
	}
	out, err := download()
	if err != nil {
		// A machine whose package lists were never fetched or were cleaned
		// knows no package: fetch them once, as the cluster's install does.
		t.Logf("apt-get download %s: %v\n%s; fetching the package lists", realSuitePackage, err, out)
		up, uerr := exec.Command("apt-get", "update").CombinedOutput()
		require.NoError(t, uerr, "apt-get update:\n%s", up)
		out, err = download()
	}
	require.NoError(t, err, "apt-get download %s (needs Debian's mirror):\n%s", realSuitePackage, out)
	matches, err := filepath.Glob(filepath.Join(debs, realSuitePackage+"_*.deb"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	root := filepath.Join(debs, "root")
	out, err = exec.Command("dpkg-deb", "-x", matches[0], root).CombinedOutput()
	require.NoError(t, err, "dpkg-deb -x:\n%s", out)
	project := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(project, "pyflakes"), os.DirFS(filepath.Join(root, "usr/lib/python3/dist-packages/pyflakes"))))
	return project
}

// TestRealSuiteShardsMatchPlainPytest runs pyflakes's own suite in 4
// shards and compares the report, test for test, with plain pytest on the
// same project in one pod of the same image. (bench's F1 does the same for
// --pod-per file and for one pod per test.)
func TestRealSuiteShardsMatchPlainPytest(t *testing.T) {
	c := Connect(t)
	project := realSuiteProject(t)
	ns := c.NewNamespace(t, "e2e-realsuite")
	ctx := Context(t, 8*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--shards", "4"), project)...)
	assert.Equal(t, 1, res.Exit, "five tests of the suite fail outside a source tree")
	c.RequireNoRunPods(t, ns)
	ours := readReport(t, report)
	plain := byKey(c.plainPytest(t, ns, suiteProperty(ours, "k8s-testrun.image")))
	require.Greater(t, len(plain), 700, "pyflakes's suite")

	got := byKey(ours)
	require.Len(t, got, len(plain), "the same tests as plain pytest")
	counts := map[junit.Status]int{}
	for key, want := range plain {
		tc, ok := got[key]
		require.True(t, ok, "%s is in the report", key)
		counts[want.Status()]++
		if !assert.Equal(t, want.Status(), tc.Status(), key) {
			continue
		}
		if d := want.Detail(); d != nil && want.Status() != junit.StatusPassed {
			require.NotNil(t, tc.Detail(), key)
			// The failures name a temporary file of their own run.
			assert.Equal(t, tempNames.ReplaceAllString(d.Message, "TMP"), tempNames.ReplaceAllString(tc.Detail().Message, "TMP"), key)
		}
	}
	assert.Equal(t, 5, counts[junit.StatusFailed], "the suite's five failures, and only those")
	assert.Positive(t, counts[junit.StatusSkipped], "the suite has skipped tests")
	assert.Equal(t, 4, reportPods(ours), "four shards")
}

// tempNames matches the names tempfile.mkdtemp gives.
var tempNames = regexp.MustCompile(`/tmp/tmp[a-z0-9_]{8}`)

// reportPods counts the distinct pods a report names.
func reportPods(ts junit.Testsuites) int {
	pods := map[string]bool{}
	for _, s := range ts.Suites {
		for _, tc := range s.Testcases {
			if p, ok := tc.Property(junit.PropertyPod); ok {
				pods[p] = true
			}
		}
	}
	return len(pods)
}
