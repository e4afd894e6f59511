package build

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// firstBuildBlobs is what a first build against a registry that already
// holds the base uploads: the dependencies layer and the config of its cache
// image, the binary layer, the source layer and the image config. The base
// layers are already there.
const firstBuildBlobs = 5

func TestBuildRebuild(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, project string)
		// wantBlobs counts the blobs the second build uploads; the new
		// layers are the ones whose digests differ, and the rest of the
		// upload is the image config.
		wantBlobs     int
		wantNewLayers int
		wantPipRuns   int
	}{
		{
			name:   "unchanged",
			change: func(*testing.T, string) {},
		},
		{
			name: "only times and permissions changed",
			change: func(t *testing.T, project string) {
				later := time.Now().Add(time.Hour)
				require.NoError(t, filepath.WalkDir(project, func(p string, _ fs.DirEntry, err error) error {
					require.NoError(t, err)
					return os.Chtimes(p, later, later)
				}))
				require.NoError(t, os.Chmod(filepath.Join(project, "tests/test_a.py"), 0o600))
			},
		},
		{
			name: "only ignored files changed",
			change: func(t *testing.T, project string) {
				writeTree(t, project, map[string]string{
					"secrets/token.txt":    "changed\n",
					"debug.log":            "new\n",
					".git/ORIG_HEAD":       "abc\n",
					"tests/other.pyc":      "\x01",
					".pytest_cache/README": "cache\n",
				})
			},
		},
		{
			name: "one test file changed",
			change: func(t *testing.T, project string) {
				writeTree(t, project, map[string]string{"tests/test_a.py": "def test_a():\n    assert False\n"})
			},
			wantBlobs:     2, // the source layer and the image config
			wantNewLayers: 1,
		},
		{
			name: "requirements changed",
			change: func(t *testing.T, project string) {
				writeTree(t, project, map[string]string{"requirements.txt": "requests==2.32.4\n"})
			},
			// The dependencies layer and its cache config; the file is also
			// a source, so the source layer; the image config.
			wantBlobs:     4,
			wantNewLayers: 2,
			wantPipRuns:   1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newTestRegistry(t)
			base := reg.ref("library/python:3.11")
			reg.push(t, base, pythonBase(false).image(t))
			project := newProject(t, sampleProject)
			pip := newFakePip(t, fakePipScript)
			var logs bytes.Buffer
			opts := reg.options(t, project, base, pip)
			opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))

			first, err := Build(context.Background(), opts)
			require.NoError(t, err)
			assert.True(t, first.PipRan)
			assert.Equal(t, firstBuildBlobs, first.UploadedBlobs)
			assert.Equal(t, 1, reg.rec.count("PUT", "/manifests/sha256:"), "the image is pushed by digest")
			assert.Len(t, pip.runs(t), 1)

			tt.change(t, project)
			reg.rec.reset()
			logs.Reset()
			second, err := Build(context.Background(), opts)
			require.NoError(t, err)

			assert.Equal(t, tt.wantPipRuns > 0, second.PipRan)
			assert.Len(t, pip.runs(t), 1+tt.wantPipRuns)
			assert.Equal(t, tt.wantBlobs, second.UploadedBlobs)
			assert.Equal(t, tt.wantBlobs, reg.rec.count("PUT", "/blobs/uploads/"), "committed uploads seen on the wire")
			assert.Contains(t, logs.String(), "uploaded_blobs="+itoa(tt.wantBlobs))

			oldLayers := layerDigests(t, reg.image(t, first.Image))
			newLayers := layerDigests(t, reg.image(t, second.Image))
			require.Len(t, newLayers, len(oldLayers))
			var changed []v1.Hash
			for i := range newLayers {
				if newLayers[i] != oldLayers[i] {
					changed = append(changed, newLayers[i])
				}
			}
			assert.Len(t, changed, tt.wantNewLayers)

			if tt.wantBlobs == 0 {
				assert.Equal(t, first.Digest, second.Digest)
				assert.Zero(t, second.UploadedBytes)
				return
			}
			assert.NotEqual(t, first.Digest, second.Digest)
			// The bytes are exactly the new blobs: new layers plus the
			// configs of the image and, when pip ran, of the cache image.
			img := reg.image(t, second.Image)
			manifest, err := img.Manifest()
			require.NoError(t, err)
			want := manifest.Config.Size
			for _, l := range manifest.Layers {
				if contains(changed, l.Digest) {
					want += l.Size
				}
			}
			if tt.wantPipRuns > 0 {
				want += depsCacheConfigSize(t, reg, opts, second.BaseDigest)
			}
			assert.Equal(t, want, second.UploadedBytes)
			assert.Contains(t, logs.String(), "uploaded_bytes="+itoa64(want))
		})
	}
}

func TestBuildImage(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	baseImg := pythonBase(false).image(t)
	reg.push(t, base, baseImg)
	project := newProject(t, sampleProject)
	opts := reg.options(t, project, base, newFakePip(t, fakePipScript))

	res, err := Build(context.Background(), opts)
	require.NoError(t, err)

	wantBase, err := baseImg.Digest()
	require.NoError(t, err)
	assert.Equal(t, wantBase, res.BaseDigest)
	assert.Equal(t, "3.11", res.PythonVersion)
	assert.Equal(t, reg.ref("proj/tests@")+res.Digest.String(), res.Image)

	img := reg.image(t, res.Image)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, layout.WorkDir, cfg.Config.WorkingDir)
	assert.Nil(t, cfg.Config.Entrypoint)
	assert.Nil(t, cfg.Config.Cmd)
	assert.True(t, cfg.Created.IsZero())
	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, "amd64", cfg.Architecture)
	assert.Equal(t, []string{
		"PATH=/usr/local/bin:/usr/bin",
		"PYTHON_VERSION=3.11.9",
		"PYTHONPATH=" + layout.DepsDir + ":/already",
		"PYTHONDONTWRITEBYTECODE=1",
	}, cfg.Config.Env)

	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 5, "two base layers, then dependencies, binary, sources")

	deps := layerEntries(t, layers[2])
	assert.Equal(t, []string{
		"opt/", "opt/k8s-testrun/", "opt/k8s-testrun/deps/",
		"opt/k8s-testrun/deps/fakedep/",
		"opt/k8s-testrun/deps/fakedep/__init__.py",
		"opt/k8s-testrun/deps/fakedep/requirements.txt",
	}, entryNames(deps), "console scripts are left out")

	bin := layerEntries(t, layers[3])
	assert.Equal(t, []string{"opt/", "opt/k8s-testrun/", "opt/k8s-testrun/bin/", "opt/k8s-testrun/bin/k8s-testrun"}, entryNames(bin))
	assert.Equal(t, int64(0o755), bin[3].Mode)

	source := layerEntries(t, layers[4])
	assert.Equal(t, []string{
		"workspace/",
		"workspace/.dockerignore",
		"workspace/requirements.txt",
		"workspace/tests/",
		"workspace/tests/__init__.py",
		"workspace/tests/conftest.py",
		"workspace/tests/test_a.py",
		"workspace/tests/test_b.py",
	}, entryNames(source))
	for _, h := range append(source, bin...) {
		assert.Equal(t, time.Unix(0, 0), h.ModTime, h.Name)
		assert.Zero(t, h.Uid, h.Name)
		assert.Zero(t, h.Gid, h.Name)
		assert.Empty(t, h.Uname, h.Name)
		assert.Empty(t, h.Gname, h.Name)
	}

	history := cfg.History[len(cfg.History)-3:]
	assert.Equal(t, "k8s-testrun: dependencies at "+layout.DepsDir, history[0].CreatedBy)
	assert.Equal(t, "k8s-testrun: sources at "+layout.WorkDir, history[2].CreatedBy)
}

func TestBuildPytest(t *testing.T) {
	tests := []struct {
		name         string
		basePytest   bool
		requirements string // "" for no requirements file
		wantPipArgs  []string
		wantNoPytest bool
		wantNoPip    bool
	}{
		{
			name:         "requirements without pytest, base without",
			requirements: "requests\n",
			wantPipArgs:  []string{"-r requirements.txt pytest"},
		},
		{
			name:         "requirements name pytest",
			requirements: "requests\nPyTest[testing] >= 8.0  # the runner\n",
			wantPipArgs:  []string{"-r requirements.txt"},
			wantNoPytest: true,
		},
		{
			name:         "requirements name a pytest plugin only",
			requirements: "pytest-cov==5.0\n",
			wantPipArgs:  []string{"-r requirements.txt pytest"},
		},
		{
			name:         "base has pytest",
			basePytest:   true,
			requirements: "requests\n",
			wantPipArgs:  []string{"-r requirements.txt"},
			wantNoPytest: true,
		},
		{
			name:        "no requirements, base without pytest",
			wantPipArgs: []string{"--progress-bar off pytest"},
		},
		{
			name:       "no requirements, base has pytest",
			basePytest: true,
			wantNoPip:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newTestRegistry(t)
			base := reg.ref("library/python:3.11")
			reg.push(t, base, pythonBase(tt.basePytest).image(t))
			files := map[string]string{"tests/test_a.py": "def test_a(): pass\n"}
			if tt.requirements != "" {
				files["requirements.txt"] = tt.requirements
			}
			pip := newFakePip(t, fakePipScript)
			opts := reg.options(t, newProject(t, files), base, pip)

			res, err := Build(context.Background(), opts)
			require.NoError(t, err)
			assert.Equal(t, "3.11", res.PythonVersion)
			assert.Equal(t, !tt.wantNoPip, res.PipRan)

			runs := pip.runs(t)
			if tt.wantNoPip {
				assert.Empty(t, runs)
				cfg, err := reg.image(t, res.Image).ConfigFile()
				require.NoError(t, err)
				assert.NotContains(t, strings.Join(cfg.Config.Env, " "), layout.DepsDir, "no dependencies, no PYTHONPATH entry")
			} else {
				require.Len(t, runs, 1)
				runs = pipArgs(runs)
				for _, want := range tt.wantPipArgs {
					assert.True(t, strings.HasSuffix(runs[0], want), "pip args %q should end with %q", runs[0], want)
				}
				if tt.wantNoPytest {
					assert.False(t, strings.HasSuffix(runs[0], " pytest"))
				}
			}

			// The verdict is cached with the dependencies: a rebuild neither
			// runs pip nor reads the base's layers again.
			reg.rec.reset()
			again, err := Build(context.Background(), opts)
			require.NoError(t, err)
			assert.False(t, again.PipRan)
			assert.Equal(t, "3.11", again.PythonVersion)
			assert.Equal(t, res.Digest, again.Digest)
			assert.Len(t, pip.runs(t), len(runs))
			assert.Equal(t, 1, reg.rec.count("GET", "/library/python/blobs/sha256:"), "only the base config is read")
		})
	}
}

func TestBuildPipFailure(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	project := newProject(t, map[string]string{"requirements.txt": "numpy==9.9\n"})
	opts := reg.options(t, project, base, newFakePip(t, failingPipScript))

	_, err := Build(context.Background(), opts)
	require.Error(t, err)
	var pipErr *PipError
	require.ErrorAs(t, err, &pipErr)
	assert.Equal(t, "3.11", pipErr.PythonVersion)
	msg := err.Error()
	assert.Contains(t, msg, `the requirements in "requirements.txt" could not be installed as wheels for Python 3.11 on linux/amd64`)
	assert.Contains(t, msg, "    ERROR: No matching distribution found for numpy==9.9")
	assert.Contains(t, msg, "preinstalled in a base image (the base_image input)")
	assert.Zero(t, reg.rec.count("PUT", "/manifests/"), "nothing is pushed, not even the cache")
}

func TestBuildPlatformFromIndex(t *testing.T) {
	amd64 := pythonBase(false)
	arm64 := baseSpec{
		// An Alpine-like image with two interpreters and no PYTHON_VERSION:
		// the one under /usr/local wins.
		layers: []map[string]string{
			{"lib/ld-musl-aarch64.so.1": "", "usr/lib/python3.10/os.py": ""},
			{"usr/local/lib/python3.12/os.py": ""},
		},
		platform: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
	}
	reg := newTestRegistry(t)
	amdImg, armImg := amd64.image(t), arm64.image(t)
	index := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amdImg, Descriptor: v1.Descriptor{Platform: &amd64.platform}},
		mutate.IndexAddendum{Add: armImg, Descriptor: v1.Descriptor{Platform: &arm64.platform}},
	)
	base := reg.ref("library/python:multi")
	reg.pushIndex(t, base, index)

	tests := []struct {
		platform     v1.Platform
		wantBase     v1.Image
		wantPython   string
		wantPlatform string // a --platform given to pip
		wantErr      string
	}{
		{platform: v1.Platform{OS: "linux", Architecture: "amd64"}, wantBase: amdImg, wantPython: "3.11", wantPlatform: "--platform manylinux_2_36_x86_64"},
		{platform: v1.Platform{OS: "linux", Architecture: "arm64"}, wantBase: armImg, wantPython: "3.12", wantPlatform: "--platform musllinux_1_2_aarch64"},
		{platform: v1.Platform{OS: "linux", Architecture: "s390x"}, wantErr: "s390x"},
	}
	for _, tt := range tests {
		t.Run(platformString(tt.platform), func(t *testing.T) {
			pip := newFakePip(t, fakePipScript)
			opts := reg.options(t, newProject(t, map[string]string{"requirements.txt": "requests\n"}), base, pip)
			opts.Platform = tt.platform
			res, err := Build(context.Background(), opts)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `base image "`+base+`"`)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			want, err := tt.wantBase.Digest()
			require.NoError(t, err)
			assert.Equal(t, want, res.BaseDigest)
			assert.Equal(t, tt.wantPython, res.PythonVersion)
			require.Len(t, pip.runs(t), 1)
			assert.Contains(t, pip.runs(t)[0], "--python-version "+tt.wantPython)
			assert.Contains(t, pip.runs(t)[0], tt.wantPlatform)
			cfg, err := reg.image(t, res.Image).ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, tt.platform.Architecture, cfg.Architecture)
		})
	}
}

func TestBuildErrors(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	project := newProject(t, map[string]string{"tests/test_a.py": ""})

	// A port that was just closed refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())

	tests := []struct {
		name        string
		edit        func(o *Options)
		wantMsg     string
		wantNotExst bool
		wantUnreach bool
	}{
		{
			name:        "missing project directory",
			edit:        func(o *Options) { o.ProjectDir = "/does/not/exist" },
			wantMsg:     `project directory "/does/not/exist" does not exist`,
			wantNotExst: true,
		},
		{
			name:        "missing binary",
			edit:        func(o *Options) { o.Binary = "/no/binary" },
			wantMsg:     `binary "/no/binary" does not exist`,
			wantNotExst: true,
		},
		{
			name:        "missing requirements file",
			edit:        func(o *Options) { o.Requirements = "reqs/dev.txt" },
			wantMsg:     `requirements file "reqs/dev.txt" does not exist`,
			wantNotExst: true,
		},
		{
			name:        "missing ignore file",
			edit:        func(o *Options) { o.IgnoreFile = ".myignore" },
			wantMsg:     "/.myignore\" does not exist",
			wantNotExst: true,
		},
		{
			name:    "bad repository",
			edit:    func(o *Options) { o.Repository = "Not A Repo" },
			wantMsg: `repository "Not A Repo": `,
		},
		{
			name:    "bad base image",
			edit:    func(o *Options) { o.BaseImage = "python:::" },
			wantMsg: `base image "python:::": `,
		},
		{
			name:    "missing base image",
			edit:    func(o *Options) { o.BaseImage = reg.ref("library/python:2.7") },
			wantMsg: `base image "` + reg.ref("library/python:2.7") + `": `,
		},
		{
			name:    "single-platform base for another platform",
			edit:    func(o *Options) { o.Platform = v1.Platform{OS: "linux", Architecture: "arm64"} },
			wantMsg: `base image "` + base + `": image is for linux/amd64, not linux/arm64`,
		},
		{
			name:        "unreachable registry",
			edit:        func(o *Options) { o.Repository = closed + "/proj/tests"; o.BaseImage = closed + "/python:3.11" },
			wantMsg:     "registry " + closed + " is unreachable: ",
			wantUnreach: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := reg.options(t, project, base, newFakePip(t, fakePipScript))
			tt.edit(&opts)
			_, err := Build(context.Background(), opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.Equal(t, tt.wantNotExst, errors.Is(err, fs.ErrNotExist), "errors.Is(err, fs.ErrNotExist)")
			var unreachable *UnreachableError
			assert.Equal(t, tt.wantUnreach, errors.As(err, &unreachable), "errors.As(err, *UnreachableError)")
		})
	}
}

// TestBuildOnTwoBases is a runtime matrix's build: the same project on two
// bases. Each base gets its own dependencies layer (pip runs for each, and
// the cache is keyed by the base's digest), while the binary and source
// layers are the same bytes on both, so the second build uploads neither.
func TestBuildOnTwoBases(t *testing.T) {
	reg := newTestRegistry(t)
	base311 := reg.ref("library/python:3.11")
	reg.push(t, base311, pythonBase(false).image(t))
	spec313 := pythonBase(false)
	spec313.layers = append(spec313.layers, map[string]string{"usr/local/lib/python3.13/os.py": "# os\n"})
	spec313.env = []string{"PATH=/usr/local/bin:/usr/bin", "PYTHON_VERSION=3.13.5"}
	base313 := reg.ref("library/python:3.13")
	reg.push(t, base313, spec313.image(t))
	project := newProject(t, sampleProject)
	pip := newFakePip(t, fakePipScript)
	opts := reg.options(t, project, base311, pip)

	first, err := Build(context.Background(), opts)
	require.NoError(t, err)
	reg.rec.reset()
	opts.BaseImage = base313
	second, err := Build(context.Background(), opts)
	require.NoError(t, err)

	assert.True(t, second.PipRan, "the dependencies are installed for each base")
	assert.Len(t, pip.runs(t), 2)
	assert.NotEqual(t, first.BaseDigest, second.BaseDigest)
	// The fake pip writes the same files for both, so the dependencies
	// layer is the same bytes too: what is uploaded is the second base's
	// dependencies cache config and the image config, not the binary or
	// source layers.
	assert.Equal(t, 2, second.UploadedBlobs, "the binary and source layers are not uploaded again")
	assert.Positive(t, depsCacheConfigSize(t, reg, opts, first.BaseDigest), "a dependencies cache for the first base")
	assert.Positive(t, depsCacheConfigSize(t, reg, opts, second.BaseDigest), "and one for the second")

	a, b := layerDigests(t, reg.image(t, first.Image)), layerDigests(t, reg.image(t, second.Image))
	require.GreaterOrEqual(t, len(a), 3)
	assert.Equal(t, a[len(a)-2:], b[len(b)-2:], "the binary and source layers, last, are shared")
	assert.Len(t, b, len(a)+1, "the second base has one more layer of its own")
}
