package history

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gitRepo is a throwaway repository for the git functions' tests.
type gitRepo struct {
	t    *testing.T
	git  string
	root string
}

func newGitRepo(t *testing.T, initArgs ...string) *gitRepo {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	r := &gitRepo{t: t, git: git, root: t.TempDir()}
	r.run(append([]string{"init", "-q"}, initArgs...)...)
	return r
}

func (r *gitRepo) run(args ...string) string {
	cmd := exec.Command(r.git, args...)
	cmd.Dir = r.root
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "%s", out)
	return string(out)
}

func (r *gitRepo) write(name, text string) {
	p := filepath.Join(r.root, name)
	require.NoError(r.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(r.t, os.WriteFile(p, []byte(text), 0o644))
}

// A repository's .git/config and .gitattributes are the project's: a clean
// filter they name must not run on the host, however dirty the working
// tree is, and whatever git would have to look at to tell.
func TestChangedRunsNoFilterOfTheRepository(t *testing.T) {
	for _, format := range []string{"sha1", "sha256"} {
		t.Run(format, func(t *testing.T) { testChangedRunsNoFilter(t, format) })
	}
}

func testChangedRunsNoFilter(t *testing.T, format string) {
	r := newGitRepo(t, "--object-format="+format)
	r.write("proj/lib/a.py", "a = 1\n")
	r.write("proj/lib/b.py", "b = 1\n")
	r.write("proj/lib/racy.py", "r = 1\n")
	future := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(r.root, "proj/lib/racy.py"), future, future))
	r.write("proj/lib/link.py", "l = 1\n")
	require.NoError(t, os.Symlink("lib/a.py", filepath.Join(r.root, "proj/alias.py")))
	r.run("add", "-A")
	r.run("commit", "-q", "-m", "one")
	base := strings.TrimSpace(r.run("rev-parse", "HEAD"))

	r.write("proj/staged.py", "s = 1\n")
	r.run("add", "proj/staged.py")
	marker := filepath.Join(t.TempDir(), "MARKER")
	r.write(".gitattributes", "* filter=evil diff=evil\n")
	r.run("config", "filter.evil.clean", "touch "+marker+"; cat")
	r.run("config", "filter.evil.process", "touch "+marker)
	r.run("config", "diff.evil.textconv", "touch "+marker+"; cat")
	r.run("config", "diff.external", "touch "+marker)

	r.write("proj/lib/a.py", "a = 22\n") // content changed
	later := time.Now().Add(2 * time.Second)
	require.NoError(t, os.Chtimes(filepath.Join(r.root, "proj/lib/b.py"), later, later)) // stat changed, content not
	require.NoError(t, os.Remove(filepath.Join(r.root, "proj/lib/link.py")))             // deleted

	got, err := Changed(context.Background(), r.git, filepath.Join(r.root, "proj"), base)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"lib/a.py", "lib/link.py", "staged.py"}, got)
	assert.NoFileExists(t, marker, "git ran the repository's filter on the host")
}
