package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPipRunsUnprivilegedAsRoot checks that, when k8s-testrun runs as root,
// pip and the requirements parser run as another user, with a home and a
// working directory of their own outside the project.
func TestPipRunsUnprivilegedAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	pip := newFakePip(t, `#!/bin/sh
id -u > "$FAKE_PIP_LOG.uid"
id -g > "$FAKE_PIP_LOG.gid"
pwd > "$FAKE_PIP_LOG.pwd"
printf '%s\n' "$HOME" > "$FAKE_PIP_LOG.home"
cat /proc/$PPID/environ > "$FAKE_PIP_LOG.environ" 2>/dev/null || echo unreadable > "$FAKE_PIP_LOG.environ"
exec `+newFakePip(t, fakePipScript).cmd[0]+` "$@"
`)
	project := newProject(t, map[string]string{"requirements.txt": "-r reqs/more.txt\n", "reqs/more.txt": "six\n"})
	require.NoError(t, os.Chmod(project, 0o700), "the project need not be readable by the unprivileged user")
	opts := reg.options(t, project, base, pip)
	opts.Environ = []string{"PATH=/usr/bin:/bin", "HOME=/root"}

	res, err := Build(context.Background(), opts)
	require.NoError(t, err)
	assert.True(t, res.PipRan)
	read := func(ext string) string {
		data, err := os.ReadFile(pip.log + ext)
		require.NoError(t, err)
		return strings.TrimSpace(string(data))
	}
	assert.Equal(t, "65534", read(".uid"))
	assert.Equal(t, "65534", read(".gid"))
	assert.NotEqual(t, "/root", read(".home"))
	assert.Equal(t, "unreadable", read(".environ"), "pip reads its parent's environment")
	pwd := read(".pwd")
	assert.False(t, strings.HasPrefix(pwd, project), "pip runs in the project directory %s", pwd)
	assert.NoDirExists(t, pwd, "the workspace is removed")
}

func TestLookPathFor(t *testing.T) {
	private := t.TempDir()
	require.NoError(t, os.Chmod(private, 0o700))
	public := worldWritableDir(t)
	for _, dir := range []string{private, public} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755))
	}
	path := private + string(os.PathListSeparator) + "relative" + string(os.PathListSeparator) + public

	got, err := lookPathFor("tool", path, nil)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(private, "tool"), got, "this process's user: the first one")

	c := &syscall.Credential{Uid: 65534, Gid: 65534}
	if os.Geteuid() == 0 {
		got, err = lookPathFor("tool", path, c)
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(public, "tool"), got, "the first one the unprivileged user can run")
		_, err = lookPathFor("tool", private, c)
		require.ErrorContains(t, err, "cannot be run by the unprivileged user (uid 65534)")
	}
	_, err = lookPathFor("tool", "relative", nil)
	require.Error(t, err, "never the working directory")
}

// TestHostPythonIsolated checks that the default pip and every parser
// command start Python isolated (-I), whatever the pip command.
func TestHostPythonIsolated(t *testing.T) {
	assert.Equal(t, []string{"python3", "-I", "-m", "pip"}, DefaultPip)
	for _, tt := range []struct {
		pip  []string
		want []string
	}{
		{DefaultPip, []string{"python3", "-I"}},
		{[]string{"/opt/py/bin/python3", "-m", "pip"}, []string{"/opt/py/bin/python3", "-I"}},
		{[]string{"python3.12", "-X", "utf8", "-I", "-m", "pip"}, []string{"python3.12", "-I", "-X", "utf8"}},
		{[]string{"/usr/local/bin/pip"}, []string{"python3", "-I"}},
	} {
		b := &builder{pip: tt.pip}
		assert.Equal(t, tt.want, b.parserCommand(), "%q", tt.pip)
	}
}

// TestWorkspaceNeedsAnEnterableTempDir checks that, as root, a temporary
// directory the unprivileged user cannot enter is named with the fix,
// rather than failing later in pip.
func TestWorkspaceNeedsAnEnterableTempDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	public := worldWritableDir(t)
	private := t.TempDir()
	require.NoError(t, os.Chmod(private, 0o700))
	t.Setenv("TMPDIR", private)
	_, err := newWorkspace(hostCredential())
	require.ErrorContains(t, err, "cannot enter the temporary directory "+private+": set TMPDIR")

	t.Setenv("TMPDIR", public)
	ws, err := newWorkspace(hostCredential())
	require.NoError(t, err)
	defer ws.remove()
	for _, dir := range []string{ws.home, ws.target} {
		assert.True(t, permits(dir, hostCredential(), 0o7), "%s belongs to the unprivileged user", dir)
	}
	assert.False(t, permits(ws.src, hostCredential(), 0o2), "the unprivileged user cannot change the checked copies")
}

// TestNoWorkspaceWithoutPip: a build that runs no host Python (no
// requirements, a base that has pytest) makes no pip workspace, so a
// temporary directory the unprivileged user cannot enter does not stop it.
func TestNoWorkspaceWithoutPip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	reg := newTestRegistry(t)
	base := reg.ref("library/python:3.11")
	reg.push(t, base, pythonBase(true).image(t))
	project := newProject(t, map[string]string{"tests/test_a.py": "def test_a():\n    pass\n"})
	opts := reg.options(t, project, base, newFakePip(t, failingPipScript))
	private := t.TempDir()
	require.NoError(t, os.Chmod(private, 0o700))
	t.Setenv("TMPDIR", private)

	res, err := Build(context.Background(), opts)
	require.NoError(t, err)
	assert.False(t, res.PipRan)
}
