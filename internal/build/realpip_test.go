package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuildWithRealPip runs the build side's own pip, offline, against the
// wheel in testdata/wheels, which the project's requirements reach with
// --no-index and a relative --find-links.
func TestBuildWithRealPip(t *testing.T) {
	if err := exec.Command(DefaultPip[0], append(DefaultPip[1:], "--version")...).Run(); err != nil {
		t.Skipf("%s is not available: %v", strings.Join(DefaultPip, " "), err)
	}
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
