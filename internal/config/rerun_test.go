package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRerunFailedAndMaxFailures(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "junit.xml")
	require.NoError(t, os.WriteFile(report, []byte(`<testsuites><testsuite><testcase classname="tests.test_a" name="test_b"><failure/></testcase></testsuite></testsuites>`), 0o644))
	c, err := ParseRun([]string{"--repository", "r.io/x", "--rerun-failed", report, "--max-failures", "3", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 3, c.MaxFailures)
	require.NotNil(t, c.Rerun, "the report is read once, by Validate")
	require.Len(t, c.Rerun.Failed, 1)
	assert.Equal(t, "tests.test_a::test_b", c.Rerun.Failed[0].String())

	c, err = ParseRun([]string{"--repository", "r.io/x", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Zero(t, c.MaxFailures, "no limit by default")
	assert.Nil(t, c.Rerun)
}

func TestRerunFailedAndMaxFailuresBadValues(t *testing.T) {
	dir := t.TempDir()
	html := filepath.Join(dir, "index.html")
	require.NoError(t, os.WriteFile(html, []byte("<html></html>"), 0o644))
	missing := filepath.Join(dir, "nope.xml")
	deep := filepath.Join(dir, "deep.xml")
	require.NoError(t, os.WriteFile(deep, []byte("<testsuites>"+strings.Repeat("<a>", 1000)), 0o644))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"negative max failures", []string{"--max-failures", "-1"}, `max failures "-1": must be 0 (no limit) or more`},
		{"missing report", []string{"--rerun-failed", missing}, `rerun failed "` + missing + `": does not exist; give the JUnit XML report of an earlier run`},
		{"not junit", []string{"--rerun-failed", html}, `rerun failed "` + html + `": is not a JUnit XML report: its root element is <html>`},
		{"nested too deep", []string{"--rerun-failed", deep}, `rerun failed "` + deep + `": is not a JUnit XML report: its elements are nested deeper than 100 levels`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRun(append([]string{"--repository", "r.io/x", dir}, tt.args...), env(nil), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one line")
		})
	}
}

// Operator mode takes a k8s-testrun report, whose failed tests carry their
// node ids, and refuses plain pytest's, whose names only discovery could
// turn back into tests.
func TestRerunFailedInOperatorMode(t *testing.T) {
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.xml")
	require.NoError(t, os.WriteFile(ours, []byte(`<testsuites><testsuite><testcase classname="tests.test_a" name="test_b"><properties><property name="k8s-testrun.test-id" value="tests/test_a.py::test_b"/></properties><failure/></testcase></testsuite></testsuites>`), 0o644))
	plain := filepath.Join(dir, "plain.xml")
	require.NoError(t, os.WriteFile(plain, []byte(`<testsuites><testsuite><testcase classname="tests.test_a" name="test_b"><failure/></testcase></testsuite></testsuites>`), 0o644))
	passed := filepath.Join(dir, "passed.xml")
	require.NoError(t, os.WriteFile(passed, []byte(`<testsuites><testsuite><testcase classname="tests.test_a" name="test_b"/></testsuite></testsuites>`), 0o644))

	c, err := ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--rerun-failed", ours, dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	require.Len(t, c.Rerun.Failed, 1)
	assert.Equal(t, "tests/test_a.py::test_b", c.Rerun.Failed[0].TestID)

	c, err = ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--rerun-failed", passed, dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err, "a plain report without failures runs nothing, in either mode")
	assert.Empty(t, c.Rerun.Failed)

	_, err = ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--rerun-failed", plain, dir}, env(nil), &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rerun failed "`+plain+`": names its failed tests by classname and name only`)
	assert.Contains(t, err.Error(), "use --mode direct")
	assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one line")

	_, err = ParseRun([]string{"--repository", "r.io/x", "--rerun-failed", plain, dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err, "direct mode matches plain names against discovery")
}
