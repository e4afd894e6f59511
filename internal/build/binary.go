package build

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// binaryLayerRecipe names the way the binary layer is made: its entries and
// its compression. It is part of the layer's cache key, so changing either
// must change it.
const binaryLayerRecipe = "k8s-testrun binary layer v1: pgzip BestSpeed, 1 MiB blocks"

// The binary layers in the cache: a developer alternates between a few
// binaries at most, and each entry weighs what the compressed binary does.
const (
	binaryCacheKind = "binary"
	binaryCacheKeep = 3
)

// cachedLayer describes a compressed layer kept in the cache. The blob is
// checked against it on every use.
type cachedLayer struct {
	Digest v1.Hash `json:"digest"`
	DiffID v1.Hash `json:"diffID"`
	Size   int64   `json:"size"`
}

// writeBinary puts the pod binary (k8s-testrun-pod) at layout.BinaryPath,
// executable by everyone, so the test pods' shim and collector come with
// the image.
func writeBinary(w *layerWriter, binary string) error {
	return w.file(layout.BinaryPath, binary, true)
}

// binaryLayer returns the layer of the binary and whether it had to be
// compressed. Compressing the binary was most of a build's time, and the
// binary changes far less often than the sources, so the compressed layer
// is kept in the cache under the digest of its uncompressed tar: that digest
// is fixed by the binary's content, path and mode, and costs one read of
// the binary.
func (b *builder) binaryLayer() (v1.Layer, bool, error) {
	if b.cache == nil {
		l, err := binaryLayerIn(b.tmpDir, "layer-*.tar.gz", b.binary)
		return l, true, err
	}
	diffID, err := tarDiffID(func(w *layerWriter) error { return writeBinary(w, b.binary) })
	if err != nil {
		return nil, false, err
	}
	if l, ok := b.cachedBinaryLayer(cacheKey(binaryLayerRecipe, diffID.String()), diffID); ok {
		b.log.Debug("binary layer from the build cache", "path", l.path, "digest", l.digest.String())
		return l, false, nil
	}
	dir := filepath.Join(b.cache.dir, binaryCacheKind)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.log.Warn("build cache: cannot store the binary layer", "error", err)
		l, err := binaryLayerIn(b.tmpDir, "layer-*.tar.gz", b.binary)
		return l, true, err
	}
	l, err := binaryLayerIn(dir, ".tmp-*", b.binary)
	if err != nil {
		return nil, true, err
	}
	// Filed under what was written: the binary may have changed since it
	// was hashed.
	key := cacheKey(binaryLayerRecipe, l.diffID.String())
	final := b.cache.path(binaryCacheKind, key, ".tar.gz")
	if err := os.Rename(l.path, final); err != nil {
		// The layer is whole where it is; the next build compresses again.
		b.log.Warn("build cache: cannot store the binary layer", "error", err)
		return l, true, nil
	}
	l.path = final
	meta := cachedLayer{Digest: l.digest, DiffID: l.diffID, Size: l.size}
	if err := b.cache.writeJSON(binaryCacheKind, key, meta); err != nil {
		b.log.Warn("build cache: cannot store the binary layer", "error", err)
	}
	b.cache.prune(binaryCacheKind, ".tar.gz", binaryCacheKeep)
	return l, true, nil
}

// binaryLayerIn compresses the binary's layer into a new file of dir named
// after pattern.
func binaryLayerIn(dir, pattern, binary string) (*fileLayer, error) {
	w, err := newLayerWriterPattern(dir, pattern)
	if err != nil {
		return nil, err
	}
	if err := writeBinary(w, binary); err != nil {
		w.abort()
		return nil, err
	}
	l, err := w.close(types.DockerLayer)
	if err != nil {
		os.Remove(w.out.Name())
		return nil, err
	}
	return l.(*fileLayer), nil
}

// cachedBinaryLayer returns the cache's entry key when its blob is whole:
// its size and digest are those recorded. A damaged entry is removed.
func (b *builder) cachedBinaryLayer(key string, diffID v1.Hash) (*fileLayer, bool) {
	var meta cachedLayer
	if !b.cache.readJSON(binaryCacheKind, key, &meta) {
		return nil, false
	}
	p := b.cache.path(binaryCacheKind, key, ".tar.gz")
	digest, size, err := fileDigest(p)
	if err == nil && (meta.DiffID != diffID || meta.Digest != digest || meta.Size != size) {
		err = errors.New("the blob does not match its record")
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			b.log.Warn("ignoring a damaged build cache entry", "path", p, "error", err)
		}
		b.cache.remove(binaryCacheKind, key)
		return nil, false
	}
	b.cache.touch(binaryCacheKind, key, ".tar.gz")
	return &fileLayer{path: p, digest: digest, diffID: diffID, size: size, mediaType: types.DockerLayer}, true
}

// tarDiffID is the digest of the uncompressed tar that add writes, without
// compressing or storing it.
func tarDiffID(add func(w *layerWriter) error) (v1.Hash, error) {
	h := sha256.New()
	w := &layerWriter{tw: tar.NewWriter(h), dirs: map[string]bool{}}
	if err := add(w); err != nil {
		return v1.Hash{}, err
	}
	if err := w.tw.Close(); err != nil {
		return v1.Hash{}, err
	}
	return sha256Hash(h), nil
}

// fileDigest hashes the file at p.
func fileDigest(p string) (v1.Hash, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	return sha256Hash(h), n, nil
}
