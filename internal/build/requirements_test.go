package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPipEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin:/bin",
		"HOME=/home/runner",
		"HTTPS_PROXY=http://proxy:3128",
		"no_proxy=localhost",
		"PIP_INDEX_URL=https://mirror/simple",
		"PIP_NO_BINARY=:all:",
		"PIP_ONLY_BINARY=:none:",
		"INPUT_TOKEN=ghs_secret",
		"INPUT_KUBECONFIG=apiVersion: v1",
		"GITHUB_TOKEN=ghs_other",
		"KUBECONFIG=/work/kubeconfig",
		"AWS_SECRET_ACCESS_KEY=abc",
		"PYTHONPATH=/evil",
		"NOEQUALS",
	}
	assert.Equal(t, []string{
		"PATH=/usr/bin:/bin",
		"HOME=/home/runner",
		"HTTPS_PROXY=http://proxy:3128",
		"no_proxy=localhost",
		"PIP_INDEX_URL=https://mirror/simple",
	}, PipEnv(environ))
	assert.Empty(t, PipEnv(nil))
}

// envPipScript is a pip that records its environment, then installs.
const envPipScript = `#!/bin/sh
env > "$FAKE_PIP_LOG.env"
` + "exec $FAKE_PIP_LOG.next \"$@\"\n"

// TestBuildPipSeesNoSecrets runs a build with secrets in the environment it
// is given and checks what pip saw.
func TestBuildPipSeesNoSecrets(t *testing.T) {
	t.Setenv("INPUT_PROCESS_TOKEN", "secret6")
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	pip := newFakePip(t, fakePipScript)
	spy := newFakePip(t, strings.ReplaceAll(envPipScript, "$FAKE_PIP_LOG.next", pip.cmd[0]))
	opts := reg.options(t, newProject(t, map[string]string{"requirements.txt": "requests\n"}), base, spy)
	opts.Environ = []string{
		"PATH=/usr/bin:/bin", "HOME=/tmp", "PIP_INDEX_URL=https://mirror/simple",
		"INPUT_TOKEN=ghs_secret1", "INPUT_KUBECONFIG=users: [{name: u, user: {token: kc_secret2}}]",
		"GITHUB_TOKEN=ghs_secret3", "KUBECONFIG=/tmp/kc_secret4", "ACTIONS_RUNTIME_TOKEN=secret5",
	}

	_, err := Build(context.Background(), opts)
	require.NoError(t, err)
	require.Len(t, pip.runs(t), 1)
	seen, err := os.ReadFile(spy.log + ".env")
	require.NoError(t, err)
	env := string(seen)
	assert.Contains(t, env, "PIP_INDEX_URL=https://mirror/simple")
	assert.Contains(t, env, "HOME=/tmp")
	assert.Contains(t, env, "PIP_ROOT_USER_ACTION=ignore")
	for _, secret := range []string{"secret1", "kc_secret2", "secret3", "kc_secret4", "secret5", "secret6", "INPUT_", "GITHUB_TOKEN", "KUBECONFIG"} {
		assert.NotContains(t, env, secret)
	}
}

func TestCheckRequirements(t *testing.T) {
	fix := "pip only installs wheels here: use a base image that has the package (the base_image input, --base-image) or point --find-links at a wheel of it"
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string // "" for accepted
	}{
		{name: "names, versions, extras, markers and options", files: map[string]string{"requirements.txt": "" +
			"# comment\n" +
			"requests==2.32.3  # pinned\n" +
			"PyYAML[libyaml] >= 6 ; python_version >= '3.8'\n" +
			"--find-links ./wheels\n--no-index\n-i https://mirror/simple\n" +
			"--only-binary :all:\n--prefer-binary\n--pre\n" +
			"numpy==2.0 \\\n    --hash=sha256:abcd\n" +
			"tinydep @ https://example.com/tinydep-0.1.0-py3-none-any.whl\n" +
			"./wheels/tinydep-0.1.0-py3-none-any.whl\n" +
			"file:///wheels/x-1-py3-none-any.whl#sha256=00\n"}},
		{name: "no-binary", files: map[string]string{"requirements.txt": "requests\n--no-binary :all:\n"},
			wantErr: `requirements.txt:2: "--no-binary" allows building packages from source; `},
		{name: "no-binary=", files: map[string]string{"requirements.txt": "--no-binary=numpy\n"},
			wantErr: `requirements.txt:1: "--no-binary=numpy" allows building`},
		{name: "no-binary after a requirement", files: map[string]string{"requirements.txt": "a\nb\nnumpy --no-binary numpy\n"},
			wantErr: `requirements.txt:3: "--no-binary" allows`},
		{name: "only-binary none", files: map[string]string{"requirements.txt": "--only-binary=:none:\n"},
			wantErr: `requirements.txt:1: "--only-binary :none:" allows building`},
		{name: "editable", files: map[string]string{"requirements.txt": "-e .\n"},
			wantErr: `requirements.txt:1: "-e" installs an editable project`},
		{name: "editable attached", files: map[string]string{"requirements.txt": "-e./pkg\n"},
			wantErr: `requirements.txt:1: "-e./pkg" installs an editable project`},
		{name: "editable long", files: map[string]string{"requirements.txt": "--editable=git+https://x/y.git#egg=y\n"},
			wantErr: `"--editable=git+https://x/y.git#egg=y" installs an editable project`},
		{name: "no build isolation", files: map[string]string{"requirements.txt": "--no-build-isolation\n"},
			wantErr: `requirements.txt:1: "--no-build-isolation" configures building from source`},
		{name: "use-pep517", files: map[string]string{"requirements.txt": "--use-pep517\n"},
			wantErr: `"--use-pep517" configures building`},
		{name: "config settings", files: map[string]string{"requirements.txt": "numpy --config-settings=setup-args=-Dblas=none\n"},
			wantErr: `"--config-settings=setup-args=-Dblas=none" passes options to a source build`},
		{name: "sdist path", files: map[string]string{"requirements.txt": "./vendor/evil-1.0.tar.gz\n"},
			wantErr: `requirements.txt:1: "./vendor/evil-1.0.tar.gz" is a source archive, which pip builds from source`},
		{name: "sdist name only", files: map[string]string{"requirements.txt": "evil-1.0.zip\n"},
			wantErr: `"evil-1.0.zip" is a source archive`},
		{name: "sdist URL", files: map[string]string{"requirements.txt": "https://example.com/evil-1.0.tar.gz#sha256=00\n"},
			wantErr: `"https://example.com/evil-1.0.tar.gz#sha256=00" is a source archive`},
		{name: "direct reference to sdist", files: map[string]string{"requirements.txt": "evil @ https://example.com/evil-1.0.tar.gz\n"},
			wantErr: `"evil @ https://example.com/evil-1.0.tar.gz" is a source archive`},
		{name: "local project directory", files: map[string]string{"requirements.txt": ".\n"},
			wantErr: `"." is a path or URL that is not a wheel`},
		{name: "vcs", files: map[string]string{"requirements.txt": "git+https://github.com/x/y.git@v1#egg=y\n"},
			wantErr: `is a version control checkout`},
		{name: "vcs direct reference", files: map[string]string{"requirements.txt": "y @ git+https://github.com/x/y.git\n"},
			wantErr: `is a version control checkout`},
		{name: "continuation keeps the first line's number", files: map[string]string{"requirements.txt": "a\nnumpy \\\n  --no-binary=numpy\n"},
			wantErr: `requirements.txt:2: "--no-binary=numpy"`},
		{name: "a comment is not an option", files: map[string]string{"requirements.txt": "requests # --no-binary :all:\n#-e .\n"}},
		{name: "nested -r", files: map[string]string{
			"requirements.txt": "requests\n-r other.txt\n",
			"other.txt":        "six\n--no-binary :all:\n",
		}, wantErr: `other.txt:2: "--no-binary" allows building`},
		{name: "nested forms and directories", files: map[string]string{
			"requirements.txt":     "--requirement=reqs/base.txt\n",
			"reqs/base.txt":        "-rdev.txt\n-c constraints.txt\n",
			"reqs/dev.txt":         "pytest\n",
			"reqs/constraints.txt": "-e ../src\n",
		}, wantErr: `reqs/constraints.txt:1: "-e" installs`},
		{name: "nested cycle is fine", files: map[string]string{
			"requirements.txt": "-r other.txt\n",
			"other.txt":        "-r requirements.txt\nsix\n",
		}},
		{name: "nested missing", files: map[string]string{"requirements.txt": "-r nope.txt\n"},
			wantErr: "requirements file nope.txt does not exist"},
		{name: "nested from the network", files: map[string]string{"requirements.txt": "-r https://example.com/r.txt\n"},
			wantErr: `requirements.txt:1: "-r https://example.com/r.txt" names a requirements file on the network`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newProject(t, tt.files)
			_, err := checkRequirements(filepath.Join(dir, "requirements.txt"), dir)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "\n", "one line")
			var re *RequirementsError
			if errors.As(err, &re) {
				assert.Contains(t, err.Error(), fix)
			}
		})
	}
}

// TestBuildRejectsSourceBuilds checks that pip never starts on a
// requirements file that allows a source build, nested or not.
func TestBuildRejectsSourceBuilds(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	for name, files := range map[string]map[string]string{
		"top":    {"requirements.txt": "requests\n--no-binary :all:\n"},
		"nested": {"requirements.txt": "-r dev/more.txt\n", "dev/more.txt": "\n\nevil @ ./evil-1.0.tar.gz\n"},
	} {
		t.Run(name, func(t *testing.T) {
			pip := newFakePip(t, fakePipScript)
			_, err := Build(context.Background(), reg.options(t, newProject(t, files), base, pip))
			var re *RequirementsError
			require.ErrorAs(t, err, &re)
			assert.Empty(t, pip.runs(t), "pip must not run")
			assert.Zero(t, reg.rec.count("PUT", "/manifests/"))
		})
	}
}

// TestNestedRequirementsInCacheKey checks that a change in a file the
// requirements chain in makes pip run again.
func TestNestedRequirementsInCacheKey(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	project := newProject(t, map[string]string{"requirements.txt": "-r other.txt\n", "other.txt": "six\n"})
	pip := newFakePip(t, fakePipScript)
	opts := reg.options(t, project, base, pip)
	_, err := Build(context.Background(), opts)
	require.NoError(t, err)
	_, err = Build(context.Background(), opts)
	require.NoError(t, err)
	require.Len(t, pip.runs(t), 1, "unchanged: cached")
	require.NoError(t, os.WriteFile(filepath.Join(project, "other.txt"), []byte("six==1.16\n"), 0o644))
	_, err = Build(context.Background(), opts)
	require.NoError(t, err)
	assert.Len(t, pip.runs(t), 2, "a nested file changed: pip runs again")
}
