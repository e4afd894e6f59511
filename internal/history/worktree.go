package history

import (
	"crypto/sha1" //nolint:gosec // git's object names, not a security use
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// maxBlobBytes bounds what is read of one working tree file to compare it
// with its blob; a larger file counts as changed.
const maxBlobBytes = 64 << 20

// workingTreeChanges are the index's entries (the output of
// `git ls-files --stage -z` in dir) whose file in dir differs from the
// staged blob: modified, deleted, of another type, or unmerged. The files
// are read raw, as git's blobs would hash them with no filter, through an
// os.Root of dir, so no path of the index leads out of the project.
// Submodules are left out, as `git diff-index --cached` shows their
// commits.
func workingTreeChanges(dir, lsFiles string) ([]string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the working tree: %w", err)
	}
	defer root.Close()
	var out []string
	for _, rec := range strings.Split(lsFiles, "\x00") {
		if rec == "" {
			continue
		}
		meta, name, ok := strings.Cut(rec, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || !objectName.MatchString(fields[1]) {
			return nil, fmt.Errorf("git ls-files: unexpected entry %.200q", rec)
		}
		mode, oid, stage := fields[0], fields[1], fields[2]
		switch {
		case mode == "160000":
			continue
		case stage != "0":
			out = append(out, name)
		case !sameBlob(root, name, mode, oid):
			out = append(out, name)
		}
	}
	return out, nil
}

// sameBlob reports whether name in root hashes to the blob oid as a file
// of the given mode (git's 100644, 100755 or 120000). Any doubt, an
// unreadable file included, is a difference.
func sameBlob(root *os.Root, name, mode, oid string) bool {
	info, err := root.Lstat(name)
	if err != nil {
		return false
	}
	switch mode {
	case "120000":
		if info.Mode().Type() != fs.ModeSymlink {
			return false
		}
		target, err := root.Readlink(name)
		return err == nil && blobName(oid, strings.NewReader(target), int64(len(target))) == oid
	case "100644", "100755":
		if !info.Mode().IsRegular() || info.Size() > maxBlobBytes {
			return false
		}
		// O_NONBLOCK: a file swapped for a FIFO since Lstat must not
		// block the run; the fstat below refuses it.
		f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return false
		}
		defer f.Close()
		info, err = f.Stat()
		if err != nil || !info.Mode().IsRegular() || info.Size() > maxBlobBytes {
			return false
		}
		return blobName(oid, f, info.Size()) == oid
	}
	return false
}

// blobName is git's object name of a blob of size bytes read from r, in
// the hash of like (SHA-1, or SHA-256 for a 64-digit name); "" when r
// does not hold size bytes.
func blobName(like string, r io.Reader, size int64) string {
	var h hash.Hash = sha1.New() //nolint:gosec // git's object names
	if len(like) == 64 {
		h = sha256.New()
	}
	h.Write([]byte("blob " + strconv.FormatInt(size, 10) + "\x00"))
	n, err := io.Copy(h, io.LimitReader(r, size+1))
	if err != nil && !errors.Is(err, io.EOF) || n != size {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
