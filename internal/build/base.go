package build

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/k8s-testrun/k8s-testrun/internal/faketime"
)

// baseImage is the base image resolved for one platform.
type baseImage struct {
	ref    name.Reference
	image  v1.Image
	digest v1.Hash
	config *v1.ConfigFile
	oci    bool // the manifest is OCI rather than Docker schema 2
}

// resolveBase fetches the manifest and config of ref for platform; an index
// yields its child for that platform.
func resolveBase(ref name.Reference, platform v1.Platform, ropts []remote.Option) (*baseImage, error) {
	img, err := remote.Image(ref, append(ropts, remote.WithPlatform(platform))...)
	if err != nil {
		return nil, classifyRegistryError(ref.Context().RegistryStr(), err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	// A single-platform image is returned whatever platform was asked for.
	if got := cfg.Platform(); got != nil && got.OS != "" && !platformMatches(*got, platform) {
		return nil, fmt.Errorf("image is for %s, not %s", got, platformString(platform))
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	return &baseImage{ref: ref, image: img, digest: digest, config: cfg, oci: mt == types.OCIManifestSchema1}, nil
}

func platformMatches(got, want v1.Platform) bool {
	if got.OS != want.OS || got.Architecture != want.Architecture {
		return false
	}
	return got.Variant == "" || want.Variant == "" || got.Variant == want.Variant
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// baseInfo is what the dependencies layer needs to know about the base.
type baseInfo struct {
	python string // major.minor, e.g. "3.12"
	pytest bool   // pytest is importable from the base's own site-packages
	musl   bool   // the C library is musl (Alpine) rather than glibc
	glibc  string // glibc's major.minor when a package database names it
	// faketime is the path of libfaketime.so.1 where Debian installs it,
	// or "" when the base has none.
	faketime string
}

var (
	pythonVersionRe = regexp.MustCompile(`^(3\.\d+)`)
	stdlibRe        = regexp.MustCompile(`(?:^|/)lib/python(3\.\d+)/os\.py$`)
	pytestRe        = regexp.MustCompile(`(?:^|/)(?:site|dist)-packages/_?pytest/__init__\.py$`)
)

// inspectBase finds the base's Python version, whether it has pytest, and
// its C library. The official python images name their version in the
// config; otherwise, and for pytest, the layers are read from the top down,
// stopping as soon as nothing is left to learn.
func inspectBase(ctx context.Context, b *baseImage) (baseInfo, error) {
	var info baseInfo
	pythonFromEnv := false
	for _, kv := range b.config.Config.Env {
		if v, ok := strings.CutPrefix(kv, "PYTHON_VERSION="); ok {
			if m := pythonVersionRe.FindString(v); m != "" {
				info.python, pythonFromEnv = m, true
			}
		}
	}
	layers, err := b.image.Layers()
	if err != nil {
		return info, err
	}
	s := &baseScan{info: info}
	for i := len(layers) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return info, err
		}
		if err := s.layer(layers[i]); err != nil {
			return info, classifyRegistryError(b.ref.Context().RegistryStr(), fmt.Errorf("reading layer %d: %w", i, err))
		}
		if pythonFromEnv && s.info.pytest && s.libcKnown() && s.info.faketime != "" {
			break
		}
	}
	info = s.info
	if !pythonFromEnv {
		info.python = s.python()
	}
	if info.python == "" {
		return info, errors.New("no Python 3 found: the config has no PYTHON_VERSION and no layer has lib/python3.N/os.py")
	}
	return info, nil
}

// baseScan accumulates what the layers of a base image reveal.
type baseScan struct {
	info       baseInfo
	stdlibs    []string // "rank version" of every lib/python3.N found
	glibcSeen  bool
	dpkgStatus bool
	// whiteouts are the paths upper layers deleted, as layers are read
	// from the top.
	whiteouts map[string]bool
}

func (s *baseScan) libcKnown() bool { return s.info.musl || s.dpkgStatus || s.glibcSeen }

func (s *baseScan) layer(l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		base := path.Base(name)
		if dir, file := path.Split(name); strings.HasPrefix(file, ".wh.") {
			if s.whiteouts == nil {
				s.whiteouts = map[string]bool{}
			}
			s.whiteouts[dir+strings.TrimPrefix(file, ".wh.")] = true
			continue
		}
		switch {
		case faketime.LibraryPattern.MatchString(name):
			if s.info.faketime == "" && !s.whiteouts[name] && !s.whiteouts[path.Dir(name)] && (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeSymlink) {
				s.info.faketime = "/" + name
			}
		case pytestRe.MatchString(name):
			s.info.pytest = true
		case strings.HasPrefix(base, "ld-musl-"):
			s.info.musl = true
		case strings.HasPrefix(base, "ld-linux"):
			s.glibcSeen = true
		case name == "var/lib/dpkg/status" && !s.dpkgStatus && h.Typeflag == tar.TypeReg:
			// Layers are read from the top, so the first status file seen is
			// the one in effect.
			s.dpkgStatus = true
			if v, err := dpkgGlibcVersion(io.LimitReader(tr, 64<<20)); err == nil {
				s.info.glibc = v
			}
		default:
			if m := stdlibRe.FindStringSubmatch(name); m != nil {
				s.stdlibs = append(s.stdlibs, stdlibRank(name)+" "+m[1])
			}
		}
	}
}

// stdlibRank prefers the interpreter that PATH finds first in the usual
// layouts: /usr/local over /opt and the like, over the distribution's /usr.
func stdlibRank(name string) string {
	switch {
	case strings.HasPrefix(name, "usr/local/"):
		return "0"
	case strings.HasPrefix(name, "usr/lib/"):
		return "2"
	default:
		return "1"
	}
}

// python picks the best ranked interpreter, the newest among equals.
func (s *baseScan) python() string {
	best, bestRank, bestMinor := "", "", -1
	for _, c := range s.stdlibs {
		rank, version, _ := strings.Cut(c, " ")
		minor, err := strconv.Atoi(strings.TrimPrefix(version, "3."))
		if err != nil {
			continue
		}
		if best == "" || rank < bestRank || (rank == bestRank && minor > bestMinor) {
			best, bestRank, bestMinor = version, rank, minor
		}
	}
	return best
}

var glibcVersionRe = regexp.MustCompile(`^(\d+\.\d+)`)

// dpkgGlibcVersion reads libc6's version from a dpkg status file.
func dpkgGlibcVersion(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	inLibc := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			inLibc = false
		case line == "Package: libc6":
			inLibc = true
		case inLibc && strings.HasPrefix(line, "Version: "):
			if m := glibcVersionRe.FindString(strings.TrimPrefix(line, "Version: ")); m != "" {
				return m, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("libc6 not installed")
}
