package build

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Defaults for the optional fields of Options.
const (
	DefaultBaseImage    = "python:3.12-slim"
	DefaultRequirements = "requirements.txt"
)

// DefaultPlatform is the platform built for when Options.Platform is empty.
var DefaultPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// DefaultPip is the pip command used when Options.Pip is empty: isolated
// (-I), so that neither the working directory nor PYTHON* variables can
// put a module of the project's in pip's place.
var DefaultPip = []string{"python3", "-I", "-m", "pip"}

// Options describe one build. ProjectDir, Repository and Binary are
// required; every other field has a documented default.
type Options struct {
	// ProjectDir is the Python project; its contents go to layout.WorkDir.
	ProjectDir string
	// Repository receives the image, pushed by digest, and the cached
	// dependency layers, under "deps-*" tags. Example: localhost:5001/tests.
	Repository string
	// Binary is the linux pod binary (k8s-testrun-pod) for the image's
	// platform.
	Binary string

	// BaseImage is any image with Python 3; default DefaultBaseImage.
	BaseImage string
	// Requirements is a pip requirements file, relative to ProjectDir. When
	// empty, DefaultRequirements is used if it exists, else none.
	Requirements string
	// IgnoreFile is a .dockerignore-style file, relative to ProjectDir. When
	// empty, .k8stestrunignore or else .dockerignore is used if present.
	IgnoreFile string
	// Platform is the cluster nodes' platform; default DefaultPlatform.
	Platform v1.Platform
	// Pip is the pip command on the build side; default DefaultPip. It
	// runs, like pip's requirements parser (the interpreter of a
	// "python -m pip" command, or python3, always with -I), in a workspace
	// outside the project that holds copies of the checked requirements
	// files and wheels; as the unprivileged user 65534 when this process
	// is root.
	Pip []string
	// Environ is the environment pip is started from, as KEY=VALUE
	// strings. Only PATH, HOME, the proxy variables and pip's own PIP_* settings
	// reach pip (see PipEnv); default none of them.
	Environ []string
	// Insecure allows plain HTTP to registries other than loopback ones,
	// such as kind's registry seen from inside the kind network. Loopback
	// registries are always allowed plain HTTP.
	Insecure bool
	// Transport carries every registry request; default remote.DefaultTransport.
	Transport http.RoundTripper
	// Keychain supplies registry credentials; default authn.DefaultKeychain.
	Keychain authn.Keychain
	// Logger receives progress; default discards.
	Logger *slog.Logger
	// CacheDir keeps, between builds on this machine, the compressed binary
	// layer (by the binary's content) and what was learnt of each base image
	// (by its digest and the platform). Default k8s-testrun/build in the
	// user's cache directory, $XDG_CACHE_HOME or else $HOME/.cache as
	// Environ gives them, or no cache when Environ has neither. A cache
	// that cannot be written is skipped with a warning; it never fails a
	// build.
	CacheDir string
	// Faketime asks whether the base image has Debian's libfaketime:
	// Result.FaketimeLibrary is its path, or "" when it has none.
	Faketime bool
}

// builder is a validated build: every default applied, every reference
// parsed.
type builder struct {
	projectDir   string
	repo         name.Repository
	baseRef      name.Reference
	binary       string
	requirements string // relative to projectDir, or "" for none
	ignoreFile   string
	platform     v1.Platform
	pip          []string
	pipEnv       []string
	// pipCred is who host-side Python runs as; nil for this process's user.
	pipCred   *syscall.Credential
	transport http.RoundTripper
	keychain  authn.Keychain
	log       *slog.Logger
	uploads   *uploadCounter
	tmpDir    string
	cache     *diskCache // nil when off
	// baseInspected records that this build read the base's layers.
	baseInspected bool
	// baseInfo is what this build learnt of the base, once it asked.
	baseInfo *baseInfo
	faketime bool
}

func newBuilder(o Options) (*builder, error) {
	b := &builder{
		binary:     o.Binary,
		ignoreFile: o.IgnoreFile,
		platform:   o.Platform,
		pip:        o.Pip,
		pipEnv:     PipEnv(o.Environ),
		pipCred:    hostCredential(),
		transport:  o.Transport,
		keychain:   o.Keychain,
		log:        o.Logger,
		faketime:   o.Faketime,
	}
	dir, err := projectDirOf(o.ProjectDir)
	if err != nil {
		return nil, err
	}
	b.projectDir = dir

	if o.Repository == "" {
		return nil, errors.New("repository is required")
	}
	if b.repo, err = name.NewRepository(o.Repository, NameOptions(o.Repository, o.Insecure)...); err != nil {
		return nil, fmt.Errorf("repository %q: %w", o.Repository, err)
	}
	base := o.BaseImage
	if base == "" {
		base = DefaultBaseImage
	}
	if b.baseRef, err = name.ParseReference(base, NameOptions(base, o.Insecure)...); err != nil {
		return nil, fmt.Errorf("base image %q: %w", base, err)
	}

	if err := checkBinary(o.Binary); err != nil {
		return nil, err
	}

	b.requirements = o.Requirements
	if b.requirements == "" {
		if _, err := os.Stat(filepath.Join(dir, DefaultRequirements)); err == nil {
			b.requirements = DefaultRequirements
		}
	} else if _, err := os.Stat(b.requirementsPath()); errors.Is(err, fs.ErrNotExist) {
		return nil, &notExistError{what: "requirements file", path: o.Requirements, err: err}
	}

	if b.platform.OS == "" && b.platform.Architecture == "" {
		b.platform = DefaultPlatform
	}
	if b.platform.OS == "" || b.platform.Architecture == "" {
		return nil, fmt.Errorf("platform %q needs both an OS and an architecture", platformString(b.platform))
	}
	if len(b.pip) == 0 {
		b.pip = DefaultPip
	}
	if b.transport == nil {
		b.transport = remote.DefaultTransport
	}
	if b.keychain == nil {
		b.keychain = authn.DefaultKeychain
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.uploads = &uploadCounter{next: b.transport}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		cacheDir = defaultCacheDir(o.Environ)
	} else if cacheDir, err = filepath.Abs(cacheDir); err != nil {
		return nil, fmt.Errorf("cache directory %q: %w", o.CacheDir, err)
	}
	b.cache = openCache(cacheDir, b.log)
	return b, nil
}

// projectDirOf is the absolute path of the project directory, which must
// exist.
func projectDirOf(projectDir string) (string, error) {
	if projectDir == "" {
		return "", errors.New("project directory is required")
	}
	dir, err := filepath.Abs(projectDir)
	if err != nil {
		return "", fmt.Errorf("project directory %q: %w", projectDir, err)
	}
	switch info, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return "", &notExistError{what: "project directory", path: projectDir, err: err}
	case err != nil:
		return "", fmt.Errorf("project directory %q: %w", projectDir, err)
	case !info.IsDir():
		return "", fmt.Errorf("project directory %q is not a directory", projectDir)
	}
	return dir, nil
}

// checkBinary checks that the binary to put in the image is a regular
// file.
func checkBinary(binary string) error {
	if binary == "" {
		return errors.New("binary is required")
	}
	switch info, err := os.Stat(binary); {
	case errors.Is(err, fs.ErrNotExist):
		return &notExistError{what: "binary", path: binary, err: err}
	case err != nil:
		return fmt.Errorf("binary %q: %w", binary, err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("binary %q is not a regular file", binary)
	}
	return nil
}

// requirementsPath is the requirements file's path on disk.
func (b *builder) requirementsPath() string {
	if filepath.IsAbs(b.requirements) {
		return b.requirements
	}
	return filepath.Join(b.projectDir, b.requirements)
}

// NameOptions are the options to parse ref, an image or repository
// reference, with: plain HTTP when insecure asks for it, and always for
// loopback registries (localhost, *.localhost, loopback addresses), which
// serve HTTP in every local setup (kind, registry:2).
func NameOptions(ref string, insecure bool) []name.Option {
	if insecure || isLoopbackRegistry(ref) {
		return []name.Option{name.Insecure}
	}
	return nil
}

func isLoopbackRegistry(ref string) bool {
	registry, _, ok := strings.Cut(ref, "/")
	if !ok {
		return false
	}
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
