package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// cacheSubdir is where the default cache lives in the user's cache
// directory.
const cacheSubdir = "k8s-testrun/build"

// defaultCacheDir is the cache used when Options.CacheDir is empty: in the
// user's cache directory as os.UserCacheDir finds it on Linux
// ($XDG_CACHE_HOME, else $HOME/.cache), but read from environ, the
// environment the caller hands the build, not from this process's. It is ""
// when environ names neither.
func defaultCacheDir(environ []string) string {
	var xdg, home string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "XDG_CACHE_HOME":
			xdg = v
		case "HOME":
			home = v
		}
	}
	var dir string
	switch {
	case filepath.IsAbs(xdg):
		dir = xdg
	case filepath.IsAbs(home):
		dir = filepath.Join(home, ".cache")
	default:
		return ""
	}
	return filepath.Join(dir, filepath.FromSlash(cacheSubdir))
}

// diskCache keeps, between builds on one machine, what is slow to make and
// fully determined by its key: the compressed binary layer and what was
// learnt of a base image. Each kind of entry has a directory of its own;
// entries are written under a temporary name and renamed into place, so a
// reader sees a whole entry or none, and builds running at once can share
// it. A cache that cannot be read or written costs time, never a build: a
// nil *diskCache is a cache that is off.
type diskCache struct {
	dir string
	log *slog.Logger
}

// openCache returns the cache in dir, creating it, or nil with a warning
// when dir is "" or cannot be created.
func openCache(dir string, log *slog.Logger) *diskCache {
	if dir == "" {
		log.Debug("build cache off: no cache directory")
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Warn("build cache off", "dir", dir, "error", err)
		return nil
	}
	return &diskCache{dir: dir, log: log}
}

// cacheKey hashes the parts of a key into a file name.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// path is where the file of kind's entry key with extension ext goes.
func (c *diskCache) path(kind, key, ext string) string {
	return filepath.Join(c.dir, kind, key+ext)
}

// readJSON decodes kind's entry key into v; false when the entry is
// missing or unreadable, and then an unreadable one is removed.
func (c *diskCache) readJSON(kind, key string, v any) bool {
	p := c.path(kind, key, ".json")
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err == nil {
		if err = json.Unmarshal(data, v); err == nil {
			return true
		}
	}
	c.log.Warn("ignoring a damaged build cache entry", "path", p, "error", err)
	c.remove(kind, key)
	return false
}

// writeJSON stores v as kind's entry key.
func (c *diskCache) writeJSON(kind, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Join(c.dir, kind)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.path(kind, key, ".json"))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// remove deletes every file of kind's entry key.
func (c *diskCache) remove(kind, key string) {
	matches, _ := filepath.Glob(filepath.Join(c.dir, kind, key+".*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

// touch marks kind's entry key as just used, for prune.
func (c *diskCache) touch(kind, key, ext string) {
	now := time.Now()
	os.Chtimes(c.path(kind, key, ext), now, now)
}

// prune keeps the keep most recently used entries of kind, judged by the
// modification time of their ext file, and removes the others and any
// temporary file left by a build that died more than an hour ago.
func (c *diskCache) prune(kind, ext string, keep int) {
	dir := filepath.Join(c.dir, kind)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		key  string
		used time.Time
	}
	var entries []entry
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue
		}
		name := e.Name()
		if strings.HasPrefix(name, ".tmp-") {
			if time.Since(info.ModTime()) > time.Hour {
				os.Remove(filepath.Join(dir, name))
			}
			continue
		}
		if key, ok := strings.CutSuffix(name, ext); ok {
			entries = append(entries, entry{key: key, used: info.ModTime()})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].used.After(entries[j].used) })
	for _, e := range entries[min(keep, len(entries)):] {
		c.log.Debug("pruning build cache entry", "kind", kind, "key", e.key)
		c.remove(kind, e.key)
	}
}

// Records are small JSON records of one kind kept in the build cache on
// this machine: what a run of ours pushed to a registry that others (test
// pods among them) may push to as well, so that a later run trusts only
// what this machine recorded, never what the registry lists. Each record
// is written under a temporary name and renamed into place; the keep most
// recently written or read are kept. A nil *Records is off: it has no
// record and keeps none.
type Records struct {
	cache *diskCache
	kind  string
	keep  int
}

// OpenRecords returns the records of kind in the build cache directory
// dir or, when dir is "", in the default one that environ names (as
// Options.CacheDir); nil, with a line in log, when there is none or it
// cannot be created.
func OpenRecords(dir string, environ []string, kind string, keep int, log *slog.Logger) *Records {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		dir = defaultCacheDir(environ)
	} else if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	c := openCache(dir, log)
	if c == nil {
		return nil
	}
	return &Records{cache: c, kind: kind, keep: max(keep, 1)}
}

// Read decodes the record of key into v and marks it as just used; false
// when there is none, or it is damaged (and then removed).
func (r *Records) Read(key string, v any) bool {
	if r == nil {
		return false
	}
	k := cacheKey(r.kind, key)
	if !r.cache.readJSON(r.kind, k, v) {
		return false
	}
	r.cache.touch(r.kind, k, ".json")
	return true
}

// Write keeps v as the record of key, replacing any, and drops the oldest
// records beyond the bound.
func (r *Records) Write(key string, v any) error {
	if r == nil {
		return errors.New("no cache directory on this machine to keep records in")
	}
	if err := r.cache.writeJSON(r.kind, cacheKey(r.kind, key), v); err != nil {
		return err
	}
	r.cache.prune(r.kind, ".json", r.keep)
	return nil
}
