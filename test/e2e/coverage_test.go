//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// noHostCoverage returns the environment of a k8s-testrun whose PATH
// leads with impostors of every way coverage.py could be run on this
// machine, each of which writes to the marker file it returns; python3
// and python write to it only when asked for coverage, and otherwise run
// the real python3. k8s-testrun combines the pods' data in the cluster,
// so the marker stays absent.
func noHostCoverage(t *testing.T) ([]string, string) {
	t.Helper()
	bin, marker := t.TempDir(), filepath.Join(t.TempDir(), "host-coverage-ran")
	real, err := exec.LookPath("python3")
	if err != nil {
		real = "/usr/bin/python3"
	}
	for name, script := range map[string]string{
		"python3-coverage": "echo \"$0 $*\" >> '" + marker + "'\nexit 1\n",
		"coverage":         "echo \"$0 $*\" >> '" + marker + "'\nexit 1\n",
		"python3":          "case \"$*\" in *coverage*) echo \"$0 $*\" >> '" + marker + "'; exit 1;; esac\nexec '" + real + "' \"$@\"\n",
		"python":           "case \"$*\" in *coverage*) echo \"$0 $*\" >> '" + marker + "'; exit 1;; esac\nexec '" + real + "' \"$@\"\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+script), 0o755))
	}
	return []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}, marker
}

// requireNothingRanOnTheHost fails the test if an impostor of
// noHostCoverage ran.
func requireNothingRanOnTheHost(t *testing.T, marker string) {
	t.Helper()
	b, err := os.ReadFile(marker)
	if !os.IsNotExist(err) {
		t.Fatalf("coverage.py was run on this machine: %s (%v)", b, err)
	}
}

// plainCoverageRun runs `coverage run -m pytest` on the whole project in
// one pod of image and returns coverage.py's Cobertura report of it.
func (c *Cluster) plainCoverageRun(t *testing.T, ns, image string) coverage.Summary {
	t.Helper()
	const marker = "=== k8s-testrun e2e: coverage.xml ==="
	// The report keeps to the project's files: measured whole, pytest's own
	// make it a log of about a megabyte, which a loaded kubelet has been
	// seen to hand back cut short.
	log := c.runScript(t, ns, "plain-coverage-run", image, "python -m coverage run -m pytest -q -p no:cacheprovider; "+
		"python -m coverage xml --include='"+layout.WorkDir+"/*' -o /tmp/coverage.xml; echo '"+marker+"'; cat /tmp/coverage.xml",
		corev1.EnvVar{Name: coverage.DataFileEnv, Value: "/tmp/.coverage"})
	out, xmlPart, ok := strings.Cut(log, marker)
	require.True(t, ok, "plain coverage's log:\n%s", log)
	assert.Contains(t, out, "2 passed", "plain pytest under coverage:\n%s", out)
	s, err := coverage.ParseReport(strings.NewReader(xmlPart))
	require.NoError(t, err, "plain coverage's report:\n%s", log)
	return s
}

func filesByName(s coverage.Summary) map[string]coverage.File {
	m := map[string]coverage.File{}
	for _, f := range s.Files {
		m[f.Name] = f
	}
	return m
}

// TestCoverage runs testdata/coverage, a module of two functions and a
// test for each, one pod per test, with --coverage on a base image with
// Debian's python3-coverage: coverage.xml, beside the JUnit report, has
// both functions covered, and every file's executed lines equal those of
// one plain `coverage run -m pytest` of the project in one pod of the same
// image. The data is combined in the cluster: no coverage.py runs on this
// machine.
func TestCoverage(t *testing.T) {
	env, marker := noHostCoverage(t)
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-coverage")
	ctx := Context(t, 10*time.Minute)
	base := c.debBase(t, "python3-coverage", "python-coverage")
	out := t.TempDir()
	report := filepath.Join(out, "junit.xml")

	start := time.Now()
	res := c.RunCLI(ctx, t, env, append(c.runArgs(t, ns, report, "--base-image", base, "--coverage"), Testdata("coverage"))...)
	require.Equal(t, 0, res.Exit, "stderr:\n%s", res.Stderr)
	t.Logf("run with --coverage took %s", time.Since(start).Round(time.Second))
	c.RequireNoRunPods(t, ns)
	requireNothingRanOnTheHost(t, marker)

	ts := readReport(t, report)
	pods := podsOf(t, ts)
	require.Len(t, pods, 2)
	assert.Equal(t, 2, distinct(pods), "each test in its own pod: %v", pods)

	f, err := os.Open(filepath.Join(out, coverage.ReportFile))
	require.NoError(t, err, "coverage.xml is beside the JUnit report")
	defer f.Close()
	ours, err := coverage.ParseReport(f)
	require.NoError(t, err)
	got := filesByName(ours)
	require.Contains(t, got, "calc.py", "files: %v", ours.Files)
	calc := got["calc.py"]
	assert.Equal(t, calc.Lines, calc.Covered, "both functions covered: line-rate 1.0 for calc.py (%v)", calc)
	assert.Contains(t, res.Stdout, "Coverage: "+ours.Total()+" of ", "the total in the terminal summary")

	plain := c.plainCoverageRun(t, ns, suiteProperty(ts, "k8s-testrun.image"))
	// The plain report keeps to /workspace too (names relative to it, as
	// coverage.xml names them); anything else it names is counted apart.
	want := coverage.Summary{}
	outside := 0
	for _, f := range plain.Files {
		if strings.HasPrefix(f.Name, "/") {
			outside++
			continue
		}
		want.Files = append(want.Files, f)
		want.Lines += f.Lines
		want.Covered += f.Covered
	}
	require.Contains(t, filesByName(want), "calc.py")
	assert.Equal(t, filesByName(want), got, "the same files, lines and executed lines as one plain coverage run")
	assert.Equal(t, want.Total(), ours.Total())
	t.Logf("coverage.xml: %s of %d lines in %d files; plain coverage.py's report named %d files outside the project", ours.Total(), ours.Lines, len(ours.Files), outside)
}

// TestCoverageNeedsCoverageInTheImage: the cluster's plain base image has
// no coverage.py, so --coverage stops the run after discovery with one
// line and exit code 2, before any test pod.
func TestCoverageNeedsCoverageInTheImage(t *testing.T) {
	env, marker := noHostCoverage(t)
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-nocoverage")
	ctx := Context(t, 6*time.Minute)

	res := c.RunCLI(ctx, t, env, append(c.runArgs(t, ns, filepath.Join(t.TempDir(), "junit.xml"), "--coverage", "-v"), Testdata("coverage"))...)
	assert.Equal(t, 2, res.Exit)
	requireNothingRanOnTheHost(t, marker)
	lines := errorLines(res.Stderr)
	require.Len(t, lines, 1, res.Stderr)
	assert.Contains(t, lines[0], "has no coverage.py: add coverage to your requirements, or use a base image with it (Debian's python3-coverage)")
	// Discovery ran, or its collection came from the cache.
	assert.Regexp(t, `discovering tests|tests from the collection cache`, res.Stderr)
	assert.NotContains(t, res.Stderr, "running tests", "no test pod ran")
	c.RequireNoRunPods(t, ns)
}

// TestActionCoverage runs testdata/coverage as the action, one pod per
// file (both tests in one pytest session under coverage.py): the coverage
// output, the path of coverage.xml beside the JUnit report, and the total
// with the least covered files in the job summary.
func TestActionCoverage(t *testing.T) {
	env, marker := noHostCoverage(t)
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-action-coverage")
	base := c.debBase(t, "python3-coverage", "python-coverage")
	_, srv := newChecksAPI(t, false)
	s := c.actionStep(t, srv.URL, ns, "testdata/coverage", map[string]string{
		"base_image": base, "coverage": "true", "pod_per": "file",
	})

	res := c.RunCLI(Context(t, 5*time.Minute), t, append(s.env, env...), "action")
	require.Equal(t, 0, res.Exit, "stderr:\n%s", res.Stderr)
	c.RequireNoRunPods(t, ns)
	requireNothingRanOnTheHost(t, marker)
	pods := podsOf(t, readReport(t, s.junit))
	require.Len(t, pods, 2)
	assert.Equal(t, 1, distinct(pods), "one pod for the file: %v", pods)

	out := readOutputs(t, s.output)
	assert.Equal(t, "100.0", out["coverage"])
	xmlPath := filepath.Join(filepath.Dir(s.junit), coverage.ReportFile)
	assert.Equal(t, xmlPath, out["coverage_xml"])
	f, err := os.Open(xmlPath)
	require.NoError(t, err)
	defer f.Close()
	sum, err := coverage.ParseReport(f)
	require.NoError(t, err)
	calc := filesByName(sum)["calc.py"]
	assert.Equal(t, 7, calc.Lines, "calc.py's statements: %v", calc)
	assert.Equal(t, calc.Lines, calc.Covered, "both functions covered from one pod")

	md, err := os.ReadFile(s.summary)
	require.NoError(t, err)
	assert.Contains(t, string(md), "**Coverage:** 100.0% of 13 lines, all pods combined")
	assert.Contains(t, string(md), "| `calc.py` | 7 | 100.0% |")
}
