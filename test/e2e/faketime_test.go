//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// faketimeBase pushes the cluster's base image with Debian's libfaketime
// added as a layer and returns it by digest.
func (c *Cluster) faketimeBase(t *testing.T) string {
	t.Helper()
	return c.debBase(t, "libfaketime", "python-faketime")
}

// debBase pushes the cluster's base image with a Debian package's files
// added as a layer (the .deb's files as apt-get download fetches them; this
// machine is Debian 12 like the image, and the package's dependencies must
// be in the image already) and returns it by digest, tagged
// e2e/<repo>:latest.
func (c *Cluster) debBase(t *testing.T, pkg, repo string) string {
	t.Helper()
	debs := t.TempDir()
	download := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "download", pkg)
		cmd.Dir = debs
		return cmd.CombinedOutput()
	}
	out, err := download()
	if err != nil {
		t.Logf("apt-get download %s: %v\n%s; fetching the package lists", pkg, err, out)
		up, uerr := exec.Command("apt-get", "update").CombinedOutput()
		require.NoError(t, uerr, "apt-get update:\n%s", up)
		out, err = download()
	}
	require.NoError(t, err, "apt-get download %s:\n%s", pkg, out)
	matches, err := filepath.Glob(filepath.Join(debs, pkg+"_*.deb"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	root := filepath.Join(debs, "root")
	out, err = exec.Command("dpkg-deb", "-x", matches[0], root).CombinedOutput()
	require.NoError(t, err, "dpkg-deb -x:\n%s", out)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		// A symlink (python3-coverage has some) needs its target.
		var link string
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), 0, 0, "root", "root"
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	}))
	require.NoError(t, tw.Close())
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	require.NoError(t, err)

	baseRef, err := name.ParseReference(c.BaseImage)
	require.NoError(t, err)
	base, err := remote.Image(baseRef)
	require.NoError(t, err, "pulling %s", c.BaseImage)
	img, err := mutate.AppendLayers(base, layer)
	require.NoError(t, err)
	tag, err := name.NewTag(c.Registry + "/e2e/" + repo + ":latest")
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, img), "pushing %s", tag)
	digest, err := img.Digest()
	require.NoError(t, err)
	return tag.Context().Digest(digest.String()).String()
}

// faketimeProject checks, in each test, the time the test sees.
const faketimeProject = `import datetime
import time

import pytest


def test_run_faketime():
    assert datetime.date.today() == datetime.date(2031, 6, 1)
    assert time.gmtime(time.time()).tm_year == 2031
    start = time.monotonic()
    time.sleep(0.2)
    assert time.monotonic() - start >= 0.2


def test_also_run_faketime():
    assert time.gmtime(time.time()).tm_year == 2031


@pytest.mark.faketime("@2029-03-04 05:06:07")
def test_own_faketime():
    assert datetime.date.today() == datetime.date(2029, 3, 4)
    assert time.gmtime(time.time()).tm_year == 2029
    first = time.time()
    time.sleep(1.1)
    assert time.time() > first, "a start-at clock runs"


# Its pod runs the file's tests of this time with the shim's per-test
# timeout, which reads the test's start from the streaming plugin: a start
# taken from the fake clock, 400 days back, would read as timed out.
class TestOffset:
    @pytest.mark.faketime("-400d")
    def test_offset(self):
        assert (datetime.date.today() - datetime.date(2031, 6, 1)).days < -1000
        time.sleep(0.5)  # longer than the shim's look at the running test
`

func writeFaketimeProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "tests"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tests", "test_time.py"), []byte(faketimeProject), 0o644))
	// An unregistered marker is an error under --strict-markers, in
	// discovery and in every test pod.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pytest.ini"), []byte("[pytest]\naddopts = --strict-markers -W error::pytest.PytestUnknownMarkWarning\n"), 0o644))
	return dir
}

// errorLines are the lines of stderr the command printed as its error.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "k8s-testrun:") {
			out = append(out, l)
		}
	}
	return out
}

// TestFaketime runs tests under libfaketime: --faketime for the run, a
// marker for two tests, one pod per test, per file (tests of one file with
// different times need different pods) and in shards.
func TestFaketime(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-faketime")
	ctx := Context(t, 10*time.Minute)
	base := c.faketimeBase(t)
	project := writeFaketimeProject(t)

	for _, tt := range []struct {
		name string
		args []string
		pods int
	}{
		{"per test", nil, 4},
		{"per file", []string{"--pod-per", "file"}, 3},
		// The run's time in 2 shards, each marker's time in a pod of its own.
		{"2 shards", []string{"--shards", "2"}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "junit.xml")
			res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report,
				append([]string{"--base-image", base, "--faketime", "2031-06-01 12:00:00"}, tt.args...)...), project)...)
			require.Equal(t, 0, res.Exit, "every test sees its own time")
			c.RequireNoRunPods(t, ns)
			ts := readReport(t, report)
			got := byKey(ts)
			require.Len(t, got, 4)
			for key, tc := range got {
				assert.Equal(t, junit.StatusPassed, tc.Status(), key)
			}
			pods := podsOf(t, ts)
			assert.Equal(t, tt.pods, distinct(pods), "pods: %v", pods)
			own, offset := pods["tests.test_time::test_own_faketime"], pods["tests.test_time.TestOffset::test_offset"]
			for key, pod := range pods {
				if key != "tests.test_time::test_own_faketime" {
					assert.NotEqual(t, own, pod, "%s shares no pod with a test of another time", key)
				}
				if key != "tests.test_time.TestOffset::test_offset" {
					assert.NotEqual(t, offset, pod, "%s shares no pod with a test of another time", key)
				}
			}
		})
	}
}

// TestFaketimeNeedsLibfaketime: the cluster's plain base image has no
// libfaketime, so --faketime stops the run after the build, and a marked
// test after discovery, each with one line and exit code 2, before any
// test pod.
func TestFaketimeNeedsLibfaketime(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-nofaketime")
	ctx := Context(t, 6*time.Minute)
	project := writeFaketimeProject(t)

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, filepath.Join(t.TempDir(), "junit.xml"),
		"--faketime", "2031-06-01 12:00:00", "-v"), project)...)
	assert.Equal(t, 2, res.Exit)
	lines := errorLines(res.Stderr)
	require.Len(t, lines, 1, res.Stderr)
	assert.Contains(t, lines[0], "has no libfaketime")
	assert.Contains(t, lines[0], "install Debian's libfaketime package")
	assert.Contains(t, lines[0], "drop --faketime")
	assert.NotContains(t, res.Stderr, "discovering tests", "stopped before discovery")
	assert.NotContains(t, res.Stderr, "running tests")
	c.RequireNoRunPods(t, ns)

	res = c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, filepath.Join(t.TempDir(), "junit.xml"), "-v"), project)...)
	assert.Equal(t, 2, res.Exit)
	lines = errorLines(res.Stderr)
	require.Len(t, lines, 1, res.Stderr)
	assert.Contains(t, lines[0], "has no libfaketime")
	assert.Contains(t, lines[0], "remove @pytest.mark.faketime from tests/test_time.py::")
	// Discovery ran, or its collection came from the cache.
	assert.Regexp(t, `discovering tests|tests from the collection cache`, res.Stderr)
	assert.NotContains(t, res.Stderr, "running tests", "no test pod ran")
	c.RequireNoRunPods(t, ns)
}

// TestFaketimeMalformed: a value libfaketime would misread stops the run
// with one line, before the cluster is asked anything.
func TestFaketimeMalformed(t *testing.T) {
	c := Connect(t)
	ctx := Context(t, time.Minute)
	res := c.RunCLI(ctx, t, nil, "run", "--repository", c.Registry+"/e2e/x", "--faketime", "+3w", writeFaketimeProject(t))
	assert.Equal(t, 2, res.Exit)
	lines := errorLines(res.Stderr)
	require.Len(t, lines, 1, res.Stderr)
	assert.Contains(t, lines[0], `faketime "+3w"`)
}
