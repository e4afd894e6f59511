package build

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const debianFaketime = "usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

var faketimeLayer = map[string]string{
	debianFaketime: "\x7fELF",
	"usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1": "\x7fELF",
}

func TestInspectBaseFindsLibfaketime(t *testing.T) {
	inspect := func(t *testing.T, spec baseSpec) baseInfo {
		t.Helper()
		img := spec.image(t)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		info, err := inspectBase(context.Background(), &baseImage{image: img, config: cfg})
		require.NoError(t, err)
		return info
	}

	plain := inspect(t, pythonBase(true))
	assert.Empty(t, plain.faketime, "no libfaketime in the base")

	// Below layers that already tell the Python version, pytest and the C
	// library: the scan must go on down to find it.
	low := pythonBase(true)
	low.layers = append([]map[string]string{faketimeLayer}, low.layers...)
	assert.Equal(t, "/"+debianFaketime, inspect(t, low).faketime)

	top := pythonBase(false)
	top.layers = append(top.layers, faketimeLayer)
	got := inspect(t, top)
	assert.Equal(t, "/"+debianFaketime, got.faketime)
	assert.Equal(t, "3.11", got.python, "the rest is still learnt")

	// An upper layer that deletes it, or its directory, leaves none.
	for _, wh := range []string{
		"usr/lib/x86_64-linux-gnu/faketime/.wh.libfaketime.so.1",
		"usr/lib/x86_64-linux-gnu/.wh.faketime",
	} {
		deleted := pythonBase(true)
		deleted.layers = append([]map[string]string{faketimeLayer}, append(deleted.layers, map[string]string{wh: ""})...)
		assert.Empty(t, inspect(t, deleted).faketime, wh)
	}
}

func TestBuildReportsLibfaketimeOnlyWhenAsked(t *testing.T) {
	reg := newTestRegistry(t)
	with := pythonBase(false)
	with.layers = append(with.layers, faketimeLayer)
	withRef, plainRef := reg.ref("library/python:faketime"), reg.ref("library/python:plain")
	reg.push(t, withRef, with.image(t))
	reg.push(t, plainRef, pythonBase(false).image(t))
	project := newProject(t, sampleProject)
	pip := newFakePip(t, fakePipScript)
	cacheDir := t.TempDir()

	build := func(t *testing.T, repo, base string, ask bool) Result {
		t.Helper()
		opts := reg.options(t, project, base, pip)
		opts.Repository, opts.CacheDir, opts.Faketime = reg.ref(repo), cacheDir, ask
		res, err := Build(context.Background(), opts)
		require.NoError(t, err)
		return res
	}
	assert.Empty(t, build(t, "a/tests", withRef, false).FaketimeLibrary, "not asked")
	assert.Equal(t, "/"+debianFaketime, build(t, "b/tests", withRef, true).FaketimeLibrary)
	assert.Empty(t, build(t, "c/tests", plainRef, true).FaketimeLibrary)

	// The dependencies come from the registry's cache now, so only the
	// build cache can answer without reading the base's layers.
	again := build(t, "b/tests", withRef, true)
	assert.False(t, again.BaseInspected, "from the build cache")
	assert.Equal(t, "/"+debianFaketime, again.FaketimeLibrary)

	opts := reg.options(t, project, withRef, pip)
	opts.Repository, opts.CacheDir = reg.ref("d/tests"), cacheDir
	lib, err := FaketimeLibrary(context.Background(), opts)
	require.NoError(t, err)
	assert.Equal(t, "/"+debianFaketime, lib)
	opts.BaseImage = plainRef
	lib, err = FaketimeLibrary(context.Background(), opts)
	require.NoError(t, err)
	assert.Empty(t, lib)
}
