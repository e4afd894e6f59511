package rootfs

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The cache key of the base image's recipe is what keeps its digest, and
// so the e2e and benchmark images built on it, the same across machines'
// warm caches: a change here is a deliberate rebuild.
func TestRecipePath(t *testing.T) {
	base := Recipe{Name: "python", Codename: "bookworm", Packages: PythonPackages}
	assert.Equal(t, "/cache/rootfs/python-bookworm-5d920da0692a.tar.gz", base.Path("/cache"))

	more := Recipe{Name: "python", Codename: "bookworm", Packages: append(PythonPackages[:len(PythonPackages):len(PythonPackages)], "python3-pyflakes")}
	assert.NotEqual(t, base.Path("/cache"), more.Path("/cache"), "another package list is another file")
	assert.Equal(t, PythonPackages, []string{"python3", "python3-pytest", "python-is-python3"}, "a recipe does not change the shared list")
}

func TestPythonImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "./usr/bin/python3", Mode: 0o755, Size: 2, Typeflag: tar.TypeReg}))
	_, err = tw.Write([]byte("#!"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())

	img, err := PythonImage(path)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, runtime.GOARCH, cf.Architecture)
	assert.Equal(t, []string{imagePath, "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1"}, cf.Config.Env)
	assert.Equal(t, []string{"python3"}, cf.Config.Cmd)
	layers, err := img.Layers()
	require.NoError(t, err)
	assert.Len(t, layers, 1)

	again, err := PythonImage(path)
	require.NoError(t, err)
	d1, err := img.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "the same tar gives the same digest")
}
