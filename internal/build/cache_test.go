package build

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binaryEntries lists the binary layers in the cache dir.
func binaryEntries(t *testing.T, cacheDir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(cacheDir, binaryCacheKind, "*.tar.gz"))
	require.NoError(t, err)
	return m
}

// binaryLayerOf is the binary layer's digest in a pushed image: the one but
// last layer.
func binaryLayerOf(t *testing.T, reg *testRegistry, image string) v1.Hash {
	t.Helper()
	ds := layerDigests(t, reg.image(t, image))
	return ds[len(ds)-2]
}

// bigBinary writes a binary of a few compression blocks, so the layer is
// compressed in parallel and its digest depends on the block boundaries.
func bigBinary(t *testing.T, seed byte) string {
	t.Helper()
	data := bytes.Repeat([]byte("k8s-testrun binary \x00\x01\x02 "), (3*gzipBlockSize)/23)
	for i := range data {
		if i%977 == 0 {
			data[i] = byte(i/977) ^ seed
		}
	}
	p := filepath.Join(t.TempDir(), "k8s-testrun")
	require.NoError(t, os.WriteFile(p, data, 0o755))
	return p
}

func mustDigestFile(t *testing.T, p string) v1.Hash {
	t.Helper()
	h, _, err := fileDigest(p)
	require.NoError(t, err)
	return h
}

func TestBuildCachesBinaryLayer(t *testing.T) {
	base := pythonBase(true)
	project := newProject(t, map[string]string{"tests/test_a.py": "def test_a():\n    pass\n"})
	cacheDir := t.TempDir()
	binary := bigBinary(t, 0)

	// Each build goes to a registry of its own, so each has to upload the
	// binary layer: the registry checks the cached blob against its digest.
	var binLayers []v1.Hash
	build := func(t *testing.T, cacheDir string) Result {
		t.Helper()
		reg := newTestRegistry(t)
		ref := reg.ref("library/python:3.11")
		reg.push(t, ref, base.image(t))
		opts := reg.options(t, project, ref, newFakePip(t, fakePipScript))
		opts.Binary, opts.CacheDir = binary, cacheDir
		res, err := Build(context.Background(), opts)
		require.NoError(t, err)
		binLayers = append(binLayers, binaryLayerOf(t, reg, res.Image))
		return res
	}

	first := build(t, cacheDir)
	assert.True(t, first.BinaryCompressed)
	entries := binaryEntries(t, cacheDir)
	require.Len(t, entries, 1)
	assert.Equal(t, binLayers[0].Hex, mustDigestFile(t, entries[0]).Hex, "the cache holds the pushed blob")

	second := build(t, cacheDir)
	assert.False(t, second.BinaryCompressed, "the second build reads the cached layer")
	assert.Equal(t, first.Digest, second.Digest)
	assert.Equal(t, binLayers[0], binLayers[1])
	assert.Equal(t, first.UploadedBytes, second.UploadedBytes, "the cached blob is uploaded whole")

	// A build that compresses anew, with an empty cache, makes the same
	// image: the compressed layer does not depend on the cache.
	fresh := build(t, t.TempDir())
	assert.True(t, fresh.BinaryCompressed)
	assert.Equal(t, first.Digest, fresh.Digest)

	// A changed binary is a different entry.
	binary = bigBinary(t, 1)
	other := build(t, cacheDir)
	assert.True(t, other.BinaryCompressed)
	assert.NotEqual(t, first.Digest, other.Digest)
	assert.Len(t, binaryEntries(t, cacheDir), 2)
}

func TestBuildDamagedBinaryCache(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, blob, record string)
	}{
		{"blob missing", func(t *testing.T, blob, _ string) { require.NoError(t, os.Remove(blob)) }},
		{"record missing", func(t *testing.T, _, record string) { require.NoError(t, os.Remove(record)) }},
		{"blob truncated", func(t *testing.T, blob, _ string) { require.NoError(t, os.Truncate(blob, 100)) }},
		{"blob corrupted, same size", func(t *testing.T, blob, _ string) {
			data, err := os.ReadFile(blob)
			require.NoError(t, err)
			data[len(data)/2] ^= 0xff
			require.NoError(t, os.WriteFile(blob, data, 0o644))
		}},
		{"record unreadable", func(t *testing.T, _, record string) {
			require.NoError(t, os.WriteFile(record, []byte("{not json"), 0o644))
		}},
		{"record of another blob", func(t *testing.T, _, record string) {
			data, err := os.ReadFile(record)
			require.NoError(t, err)
			other := strings.Replace(string(data), `"size":`, `"size":1`, 1)
			require.NotEqual(t, string(data), other)
			require.NoError(t, os.WriteFile(record, []byte(other), 0o644))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project := newProject(t, map[string]string{"tests/test_a.py": "def test_a():\n    pass\n"})
			cacheDir := t.TempDir()
			binary := bigBinary(t, 0)
			build := func() Result {
				reg := newTestRegistry(t)
				ref := reg.ref("library/python:3.11")
				reg.push(t, ref, pythonBase(true).image(t))
				opts := reg.options(t, project, ref, newFakePip(t, fakePipScript))
				opts.Binary, opts.CacheDir = binary, cacheDir
				res, err := Build(context.Background(), opts)
				require.NoError(t, err)
				return res
			}
			first := build()
			require.True(t, first.BinaryCompressed)
			blobs := binaryEntries(t, cacheDir)
			require.Len(t, blobs, 1)
			blob := blobs[0]
			tt.damage(t, blob, strings.TrimSuffix(blob, ".tar.gz")+".json")

			again := build()
			assert.True(t, again.BinaryCompressed, "a damaged entry is rebuilt")
			assert.Equal(t, first.Digest, again.Digest)
			assert.Equal(t, first.UploadedBytes, again.UploadedBytes)

			healed := build()
			assert.False(t, healed.BinaryCompressed, "the rebuilt entry serves the next build")
			assert.Equal(t, first.Digest, healed.Digest)
		})
	}
}

func TestBuildCacheDirUnusable(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	project := newProject(t, map[string]string{"tests/test_a.py": "def test_a():\n    pass\n"})
	opts := reg.options(t, project, base, newFakePip(t, fakePipScript))
	// A file where the cache directory should be.
	opts.CacheDir = filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(opts.CacheDir, nil, 0o644))
	var logs bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))

	first, err := Build(context.Background(), opts)
	require.NoError(t, err, "a cache that cannot be used never fails a build")
	assert.True(t, first.BinaryCompressed)
	assert.Contains(t, logs.String(), "build cache off")
	second, err := Build(context.Background(), opts)
	require.NoError(t, err)
	assert.True(t, second.BinaryCompressed)
	assert.Equal(t, first.Digest, second.Digest)
}

func TestBuildCachesBaseInspection(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref("library/python:3.11")
	baseImg := pythonBase(false).image(t)
	reg.push(t, ref, baseImg)
	baseLayers := layerDigests(t, baseImg)
	otherRef := reg.ref("library/python:3.11-pytest")
	reg.push(t, otherRef, pythonBase(true).image(t))
	project := newProject(t, sampleProject)
	pip := newFakePip(t, fakePipScript)
	cacheDir := t.TempDir()

	// Every build goes to a repository of its own, so the dependencies
	// cache in the registry never answers for the base.
	build := func(t *testing.T, repo, base string) Result {
		t.Helper()
		opts := reg.options(t, project, base, pip)
		opts.Repository, opts.CacheDir = reg.ref(repo), cacheDir
		reg.rec.reset()
		res, err := Build(context.Background(), opts)
		require.NoError(t, err)
		return res
	}
	baseBlobReads := func() int {
		n := 0
		for _, d := range baseLayers {
			n += reg.rec.count("GET", "/blobs/"+d.String())
		}
		return n
	}

	first := build(t, "one/tests", ref)
	assert.True(t, first.BaseInspected)
	assert.Positive(t, baseBlobReads(), "the first build reads the base's layers")

	second := build(t, "two/tests", ref)
	assert.False(t, second.BaseInspected, "the same base digest is not inspected again")
	assert.Zero(t, baseBlobReads())
	assert.Equal(t, "3.11", second.PythonVersion)
	runs := pipArgs(pip.runs(t))
	require.Len(t, runs, 2, "each repository's dependencies cache missed")
	assert.Contains(t, runs[0], "--python-version 3.11 ")
	assert.Contains(t, runs[0], "--platform manylinux_2_36_x86_64 ", "glibc 2.36 from the base's dpkg status")
	assert.Equal(t, runs[0], runs[1], "pip got what the first inspection learnt")

	// Another base digest is inspected, and learns that it has pytest.
	other := build(t, "three/tests", otherRef)
	assert.True(t, other.BaseInspected)

	// A damaged entry is inspected again.
	entries, err := filepath.Glob(filepath.Join(cacheDir, baseCacheKind, "*.json"))
	require.NoError(t, err)
	require.Len(t, entries, 2)
	for _, e := range entries {
		require.NoError(t, os.WriteFile(e, []byte(`{"python":""}`), 0o644))
	}
	damaged := build(t, "four/tests", ref)
	assert.True(t, damaged.BaseInspected)
	assert.Positive(t, baseBlobReads())
	assert.Equal(t, "3.11", damaged.PythonVersion)
	assert.Equal(t, runs[0], pipArgs(pip.runs(t))[3])
}

// pipArgs leaves the temporary --target directory out of pip's arguments,
// and shows the requirements file relative to the temporary workspace.
func pipArgs(runs []string) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = regexp.MustCompile(`--target \S+ `).ReplaceAllString(r, "")
		out[i] = workspaceRe.ReplaceAllString(out[i], "-r ")
	}
	return out
}

var workspaceRe = regexp.MustCompile(`-r /\S+/k8s-testrun-pip-[0-9]+/src/`)

func TestDefaultCacheDir(t *testing.T) {
	tests := []struct {
		environ []string
		want    string
	}{
		{[]string{"HOME=/home/u", "XDG_CACHE_HOME=/var/cache/u"}, "/var/cache/u/k8s-testrun/build"},
		{[]string{"HOME=/home/u"}, "/home/u/.cache/k8s-testrun/build"},
		{[]string{"HOME=/home/u", "XDG_CACHE_HOME=relative"}, "/home/u/.cache/k8s-testrun/build"},
		{[]string{"HOME="}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, defaultCacheDir(tt.environ), "%q", tt.environ)
	}
}

func TestBuildDefaultCacheDir(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	project := newProject(t, map[string]string{"tests/test_a.py": "def test_a():\n    pass\n"})
	home := t.TempDir()
	opts := reg.options(t, project, base, newFakePip(t, fakePipScript))
	opts.CacheDir, opts.Environ = "", []string{"HOME=" + home}

	first, err := Build(context.Background(), opts)
	require.NoError(t, err)
	assert.True(t, first.BinaryCompressed)
	assert.Len(t, binaryEntries(t, filepath.Join(home, ".cache", "k8s-testrun", "build")), 1)
	second, err := Build(context.Background(), opts)
	require.NoError(t, err)
	assert.False(t, second.BinaryCompressed)
}

func TestCachePrune(t *testing.T) {
	c := openCache(t.TempDir(), slog.New(slog.DiscardHandler))
	require.NotNil(t, c)
	dir := filepath.Join(c.dir, binaryCacheKind)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	now := time.Now()
	for i, key := range []string{"a", "b", "c", "d", "e"} {
		for _, ext := range []string{".tar.gz", ".json"} {
			p := c.path(binaryCacheKind, key, ext)
			require.NoError(t, os.WriteFile(p, nil, 0o644))
			// a is the oldest, e the newest.
			at := now.Add(time.Duration(i-10) * time.Minute)
			require.NoError(t, os.Chtimes(p, at, at))
		}
	}
	c.touch(binaryCacheKind, "a", ".tar.gz")
	stale := filepath.Join(dir, ".tmp-123")
	require.NoError(t, os.WriteFile(stale, nil, 0o644))
	require.NoError(t, os.Chtimes(stale, now.Add(-2*time.Hour), now.Add(-2*time.Hour)))
	fresh := filepath.Join(dir, ".tmp-456")
	require.NoError(t, os.WriteFile(fresh, nil, 0o644))

	c.prune(binaryCacheKind, ".tar.gz", 3)

	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{
		".tmp-456",
		"a.json", "a.tar.gz", // just used
		"d.json", "d.tar.gz",
		"e.json", "e.tar.gz",
	}, names)
}

// Records keep what is written under each key, in the default cache
// directory when none is given, up to the bound, the least recently used
// dropped first; a damaged one reads as none.
func TestRecords(t *testing.T) {
	home := t.TempDir()
	r := OpenRecords("", []string{"HOME=" + home}, "things", 2, nil)
	require.NotNil(t, r)
	dir := filepath.Join(home, ".cache", "k8s-testrun", "build", "things")
	type rec struct{ V string }
	var got rec
	assert.False(t, r.Read("a", &got), "nothing written yet")

	require.NoError(t, r.Write("a", rec{"1"}))
	require.NoError(t, r.Write("a", rec{"2"}))
	require.True(t, r.Read("a", &got))
	assert.Equal(t, "2", got.V, "the last write wins")

	// b is written after a, then a is read: b is the least recently used.
	require.NoError(t, r.Write("b", rec{"b"}))
	at := time.Now().Add(-time.Minute)
	for _, k := range []string{"a", "b"} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, cacheKey("things", k)+".json"), at, at))
	}
	require.True(t, r.Read("a", &got))
	require.NoError(t, r.Write("c", rec{"c"}))
	assert.True(t, r.Read("a", &got))
	assert.True(t, r.Read("c", &got))
	assert.False(t, r.Read("b", &got), "the least recently used is dropped")
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	assert.Len(t, files, 2)

	require.NoError(t, os.WriteFile(filepath.Join(dir, cacheKey("things", "c")+".json"), []byte("{"), 0o644))
	assert.False(t, r.Read("c", &got), "a damaged record")
	assert.NoFileExists(t, filepath.Join(dir, cacheKey("things", "c")+".json"))

	assert.Nil(t, OpenRecords("", nil, "things", 2, nil), "no cache directory")
	var off *Records
	assert.False(t, off.Read("a", &got))
	assert.Error(t, off.Write("a", rec{"1"}))
}
