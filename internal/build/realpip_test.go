package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuildWithRealPip runs the build side's own pip, offline, against the
// wheel in the project's wheels directory, which its requirements reach
// with --no-index and a relative --find-links.
func TestBuildWithRealPip(t *testing.T) {
	requireRealPip(t)
	project, err := filepath.Abs("testdata/wheelproject")
	require.NoError(t, err)
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	// The base has pytest, so pip needs nothing beyond the project's wheel.
	reg.push(t, base, pythonBase(true).image(t))
	opts := Options{
		ProjectDir: project,
		Repository: reg.ref("proj/tests"),
		BaseImage:  base,
		Binary:     fakeBinary(t),
		Transport:  reg.rec,
		Keychain:   authn.NewMultiKeychain(),
		Environ:    os.Environ(),
		CacheDir:   t.TempDir(),
	}

	res, err := Build(context.Background(), opts)
	require.NoError(t, err)
	assert.True(t, res.PipRan)

	layers, err := reg.image(t, res.Image).Layers()
	require.NoError(t, err)
	deps := entryNames(layerEntries(t, layers[len(layers)-3]))
	assert.Contains(t, deps, "opt/k8s-testrun/deps/tinydep/__init__.py")
	assert.Contains(t, deps, "opt/k8s-testrun/deps/tinydep-0.1.0.dist-info/METADATA")
	for _, n := range deps {
		assert.NotContains(t, n, "__pycache__", "pip must not compile for the build side's interpreter")
	}

	again, err := Build(context.Background(), opts)
	require.NoError(t, err)
	assert.False(t, again.PipRan)
	assert.Zero(t, again.UploadedBlobs)
	assert.Equal(t, res.Digest, again.Digest)
}

// TestBuildNeverImportsProjectPip builds a project that has a pip.py and a
// sitecustomize.py at its root, both writing a marker when imported, with
// the build side's own pip: neither may ever run.
func TestBuildNeverImportsProjectPip(t *testing.T) {
	requireRealPip(t)
	// Anyone may write the marker, so that an impostor running as the
	// unprivileged user would leave it too.
	markers := worldWritableDir(t)
	marker := filepath.Join(markers, "imported")
	impostor := "import pathlib\npathlib.Path(" + strconv.Quote(marker) + ").write_text(__name__)\n"
	project := newProject(t, map[string]string{
		"pip.py":             impostor + "raise SystemExit(0)\n",
		"sitecustomize.py":   impostor,
		"requirements.txt":   "--no-index\n--find-links wheels\ntinydep==0.1.0\n",
		"reqs/pip.py":        impostor,
		"tests/test_tiny.py": "def test_tiny():\n    pass\n",
	})
	wheel, err := os.ReadFile("testdata/wheelproject/wheels/tinydep-0.1.0-py3-none-any.whl")
	require.NoError(t, err)
	writeTree(t, project, map[string]string{"wheels/tinydep-0.1.0-py3-none-any.whl": string(wheel)})
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	opts := Options{
		ProjectDir: project,
		Repository: reg.ref("proj/tests"),
		BaseImage:  base,
		Binary:     fakeBinary(t),
		Transport:  reg.rec,
		Keychain:   authn.NewMultiKeychain(),
		Environ:    append(os.Environ(), "PYTHONPATH="+project, "PYTHONSTARTUP="+filepath.Join(project, "pip.py")),
		CacheDir:   t.TempDir(),
	}

	res, err := Build(context.Background(), opts)
	require.NoError(t, err)
	assert.True(t, res.PipRan)
	assert.NoFileExists(t, marker, "a project file ran on the host")
	layers, err := reg.image(t, res.Image).Layers()
	require.NoError(t, err)
	assert.Contains(t, entryNames(layerEntries(t, layers[len(layers)-3])), "opt/k8s-testrun/deps/tinydep/__init__.py")
}

// requireRealPip skips a test when this machine has no pip to run.
func requireRealPip(t *testing.T) {
	t.Helper()
	if err := exec.Command(DefaultPip[0], append(DefaultPip[1:], "--version")...).Run(); err != nil {
		t.Skipf("%s is not available: %v", strings.Join(DefaultPip, " "), err)
	}
}
