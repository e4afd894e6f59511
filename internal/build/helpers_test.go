package build

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// testRegistry is an in-memory registry behind a real HTTP server, with a
// transport that records every request a build makes.
type testRegistry struct {
	host string
	rec  *recorder
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	return &testRegistry{host: u.Host, rec: &recorder{next: http.DefaultTransport}}
}

// ref names a repository or image in the registry.
func (r *testRegistry) ref(s string) string { return r.host + "/" + s }

func (r *testRegistry) push(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	parsed, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(parsed, img))
	d, err := img.Digest()
	require.NoError(t, err)
	return d
}

func (r *testRegistry) image(t *testing.T, ref string) v1.Image {
	t.Helper()
	parsed, err := name.ParseReference(ref)
	require.NoError(t, err)
	img, err := remote.Image(parsed)
	require.NoError(t, err)
	return img
}

type recorded struct {
	method string
	path   string
	status int
}

type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	rec := recorded{method: req.Method, path: req.URL.Path}
	if err == nil {
		rec.status = resp.StatusCode
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// count counts requests by method whose path contains part.
func (r *recorder) count(method, part string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if q.method == method && strings.Contains(q.path, part) {
			n++
		}
	}
	return n
}

// baseSpec describes a fake base image: one layer per map, bottom first.
type baseSpec struct {
	layers   []map[string]string
	env      []string
	platform v1.Platform
}

var (
	debianLayer = map[string]string{
		"lib64/ld-linux-x86-64.so.2": "",
		"var/lib/dpkg/status":        "Package: base-files\nVersion: 12.4\n\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u7\n\n",
	}
	python311Layer = map[string]string{
		"usr/local/lib/python3.11/os.py":                    "# os\n",
		"usr/local/lib/python3.11/site-packages/README.txt": "",
	}
	pytestLayer = map[string]string{
		"usr/local/lib/python3.11/site-packages/pytest/__init__.py":  "",
		"usr/local/lib/python3.11/site-packages/_pytest/__init__.py": "",
	}
)

// pythonBase is a Debian-like python:3.11 image, with or without pytest.
func pythonBase(withPytest bool) baseSpec {
	s := baseSpec{
		layers:   []map[string]string{debianLayer, python311Layer},
		env:      []string{"PATH=/usr/local/bin:/usr/bin", "PYTHON_VERSION=3.11.9", "PYTHONPATH=/already"},
		platform: v1.Platform{OS: "linux", Architecture: "amd64"},
	}
	if withPytest {
		s.layers = append(s.layers, pytestLayer)
	}
	return s
}

func (s baseSpec) image(t *testing.T) v1.Image {
	t.Helper()
	img := empty.Image
	for _, files := range s.layers {
		var err error
		img, err = mutate.AppendLayers(img, tarLayer(t, files))
		require.NoError(t, err)
	}
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = s.platform.OS, s.platform.Architecture, s.platform.Variant
	cfg.Config.Env = s.env
	cfg.Config.Cmd = []string{"python3"}
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	return img
}

// tarLayer archives files, with their parent directories, in sorted order.
func tarLayer(t *testing.T, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	dirs := map[string]bool{}
	for _, n := range names {
		parts := strings.Split(n, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}))
			}
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n]))}))
		_, err := tw.Write([]byte(files[n]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	require.NoError(t, err)
	return l
}

// layerEntries lists a layer's tar headers in archive order.
func layerEntries(t *testing.T, l v1.Layer) []*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var hs []*tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hs
		}
		require.NoError(t, err)
		hs = append(hs, h)
	}
}

func entryNames(hs []*tar.Header) []string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	return names
}

// fakePip is a shell script standing in for pip: it records its arguments
// and installs one module into --target.
type fakePip struct {
	cmd []string
	log string
}

const fakePipScript = `#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_PIP_LOG"
target=
req=
while [ $# -gt 0 ]; do
	case "$1" in
	--target) target=$2; shift ;;
	-r) req=$2; shift ;;
	esac
	shift
done
mkdir -p "$target/fakedep"
printf 'VALUE = 1\n' > "$target/fakedep/__init__.py"
if [ -n "$req" ]; then cp "$req" "$target/fakedep/requirements.txt"; fi
mkdir -p "$target/bin"
printf '#!/build/side/python3\n' > "$target/bin/fakedep"
`

const failingPipScript = `#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_PIP_LOG"
echo "Looking in indexes: https://pypi.org/simple"
echo "ERROR: Could not find a version that satisfies the requirement numpy==9.9 (from versions: none)" >&2
echo "ERROR: No matching distribution found for numpy==9.9" >&2
exit 1
`

func newFakePip(t *testing.T, script string) *fakePip {
	t.Helper()
	// As root, pip runs as the unprivileged user, which must be able to
	// run the script and write its log.
	dir := worldWritableDir(t)
	p := &fakePip{log: filepath.Join(dir, "pip.log")}
	s := strings.ReplaceAll(script, "$FAKE_PIP_LOG", p.log)
	path := filepath.Join(dir, "pip")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o755))
	p.cmd = []string{path}
	return p
}

// runs returns the argument lists of every run so far.
func (p *fakePip) runs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(p.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// writeTree writes files under dir, creating parents.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func newProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	return dir
}

var sampleProject = map[string]string{
	"requirements.txt":  "requests==2.32.3\n",
	".dockerignore":     "secrets\n*.log\n",
	"tests/__init__.py": "",
	"tests/test_a.py":   "def test_a():\n    assert True\n",
	"tests/test_b.py":   "def test_b():\n    assert 1 + 1 == 2\n",
	"tests/conftest.py": "",
	"secrets/token.txt": "hunter2\n",
	"build.log":         "noise\n",
	".git/HEAD":         "ref: refs/heads/main\n",
	"tests/__pycache__/test_a.cpython-311.pyc": "\x00",
	"tests/stale.pyc":                          "\x00",
}

func fakeBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "k8s-testrun-pod")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho k8s-testrun-pod\n"), 0o755))
	return p
}

// options returns a build of project into reg's "proj/tests" on base.
func (r *testRegistry) options(t *testing.T, project, base string, pip *fakePip) Options {
	t.Helper()
	return Options{
		ProjectDir: project,
		Repository: r.ref("proj/tests"),
		BaseImage:  base,
		Binary:     fakeBinary(t),
		Pip:        pip.cmd,
		Transport:  r.rec,
		Keychain:   authn.NewMultiKeychain(),
		CacheDir:   t.TempDir(),
	}
}

func (r *testRegistry) pushIndex(t *testing.T, ref string, idx v1.ImageIndex) {
	t.Helper()
	parsed, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(parsed, idx))
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	require.NoError(t, err)
	ds := make([]v1.Hash, len(m.Layers))
	for i, l := range m.Layers {
		ds[i] = l.Digest
	}
	return ds
}

func contains(hs []v1.Hash, h v1.Hash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// depsCacheConfigSize is the size of the config of the dependencies cache
// image that a build of opts wrote.
func depsCacheConfigSize(t *testing.T, reg *testRegistry, opts Options, baseDigest v1.Hash) int64 {
	t.Helper()
	req, err := os.ReadFile(filepath.Join(opts.ProjectDir, DefaultRequirements))
	require.NoError(t, err)
	repo, err := name.NewRepository(opts.Repository)
	require.NoError(t, err)
	m, err := reg.image(t, depsTag(repo, req, true, baseDigest, DefaultPlatform).String()).Manifest()
	require.NoError(t, err)
	return m.Config.Size
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// worldWritableDir is a directory that every user can write, for what a
// process running as the unprivileged user must leave behind.
func worldWritableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "k8s-testrun-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	return dir
}
