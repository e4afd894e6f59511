package build

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
)

// The compressor and its settings are part of every layer digest: changing
// them changes the digest of every layer built from then on, so they stay
// fixed. pgzip compresses blocks of gzipBlockSize on every core, each with
// the previous block's tail as its dictionary, so its output depends on the
// data, the level and the block size only, not on the number of cores or on
// how the writes are cut. BestSpeed is what crane uses; on the binary layer
// it costs a tenth of the time of the default level for 15% more bytes.
const (
	gzipLevel     = pgzip.BestSpeed
	gzipBlockSize = 1 << 20
)

// epoch is the modification time of every entry, so that a layer depends on
// the content of its files only.
var epoch = time.Unix(0, 0)

// layerWriter writes a reproducible gzipped tar into a temporary file while
// hashing it, so a layer is read from disk once to build it and once more
// only if it has to be uploaded.
type layerWriter struct {
	out    *os.File
	buf    *bufio.Writer
	gz     *pgzip.Writer
	tw     *tar.Writer
	digest hash.Hash
	diffID hash.Hash
	size   int64
	dirs   map[string]bool
}

func newLayerWriter(tmpDir string) (*layerWriter, error) {
	return newLayerWriterPattern(tmpDir, "layer-*.tar.gz")
}

// newLayerWriterPattern writes into a new file of dir named after pattern,
// as os.CreateTemp names it.
func newLayerWriterPattern(dir, pattern string) (*layerWriter, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	w := &layerWriter{
		out:    f,
		buf:    bufio.NewWriterSize(f, 1<<16),
		digest: sha256.New(),
		diffID: sha256.New(),
		dirs:   map[string]bool{},
	}
	w.gz, err = pgzip.NewWriterLevel(io.MultiWriter(w.buf, w.digest, (*counter)(&w.size)), gzipLevel)
	if err == nil {
		err = w.gz.SetConcurrency(gzipBlockSize, 2*runtime.GOMAXPROCS(0))
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	// The header's time is zero, as compress/gzip writes it for a zero time.
	w.gz.ModTime = epoch
	w.tw = tar.NewWriter(io.MultiWriter(w.gz, w.diffID))
	return w, nil
}

type counter int64

func (c *counter) Write(p []byte) (int, error) {
	*c += counter(len(p))
	return len(p), nil
}

// entryName turns an absolute image path into a tar entry name.
func entryName(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func header(name string, typ byte, mode int64) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     mode,
		ModTime:  epoch,
	}
}

// dir adds the directory p and any missing parents, each once.
func (w *layerWriter) dir(p string) error {
	name := entryName(p)
	if name == "" || w.dirs[name] {
		return nil
	}
	if err := w.dir(path.Dir(name)); err != nil {
		return err
	}
	w.dirs[name] = true
	return w.tw.WriteHeader(header(name+"/", tar.TypeDir, 0o755))
}

// file adds the regular file src at p; the mode keeps only whether the file
// is executable.
func (w *layerWriter) file(p, src string, executable bool) error {
	name := entryName(p)
	if err := w.dir(path.Dir(name)); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	mode := int64(0o644)
	if executable {
		mode = 0o755
	}
	h := header(name, tar.TypeReg, mode)
	h.Size = info.Size()
	if err := w.tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := io.Copy(w.tw, f); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return nil
}

func (w *layerWriter) symlink(p, target string) error {
	name := entryName(p)
	if err := w.dir(path.Dir(name)); err != nil {
		return err
	}
	h := header(name, tar.TypeSymlink, 0o777)
	h.Linkname = target
	return w.tw.WriteHeader(h)
}

// walkDecision says what to do with one entry of a tree.
type walkDecision struct {
	include bool // write the entry itself
	descend bool // for a directory: visit its children
}

// tree adds the tree under root at prefix, in lexical order. decide may be
// nil to include everything; it gets slash-separated paths relative to root.
func (w *layerWriter) tree(prefix, root string, decide func(rel string, d fs.DirEntry) (walkDecision, error)) error {
	root, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	if err := w.dir(prefix); err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		dec := walkDecision{include: true, descend: true}
		if decide != nil {
			if dec, err = decide(rel, d); err != nil {
				return err
			}
		}
		name := path.Join(prefix, rel)
		switch {
		case d.IsDir():
			if dec.include {
				if err := w.dir(name); err != nil {
					return err
				}
			}
			if !dec.descend {
				return filepath.SkipDir
			}
			return nil
		case !dec.include:
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return w.symlink(name, target)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return w.file(name, p, info.Mode().Perm()&0o111 != 0)
		default:
			// Sockets, pipes and devices have no place in an image.
			return nil
		}
	})
}

// close finishes the archive and returns it as a layer of media type mt.
// The file stays in place until its temporary directory is removed.
func (w *layerWriter) close(mt types.MediaType) (v1.Layer, error) {
	err := errors.Join(w.tw.Close(), w.gz.Close(), w.buf.Flush())
	if cerr := w.out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return &fileLayer{
		path:      w.out.Name(),
		digest:    sha256Hash(w.digest),
		diffID:    sha256Hash(w.diffID),
		size:      w.size,
		mediaType: mt,
	}, nil
}

// abort discards a half-written layer.
func (w *layerWriter) abort() {
	w.out.Close()
	os.Remove(w.out.Name())
}

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// fileLayer is a gzipped tar on disk whose hashes were computed while it was
// written.
type fileLayer struct {
	path      string
	digest    v1.Hash
	diffID    v1.Hash
	size      int64
	mediaType types.MediaType
}

var _ v1.Layer = (*fileLayer)(nil)

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{Reader: zr, close: func() error { return errors.Join(zr.Close(), f.Close()) }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
