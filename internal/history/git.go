package history

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// gitSafe are the options every git command here runs with: the project's
// repository is untrusted, so no hook and no fsmonitor command it
// configures may run. rev-parse runs neither anyway; the options keep it
// so whatever git does in a later version.
var gitSafe = []string{"-c", "core.fsmonitor=", "-c", "core.hooksPath=/dev/null", "--no-optional-locks"}

var objectName = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// gitTimeout bounds each git command.
const gitTimeout = 30 * time.Second

// Head is the commit checked out in dir and its branch ("" when detached),
// read with the git binary as data: `git rev-parse HEAD` and
// `git rev-parse --abbrev-ref HEAD`, with gitSafe and without the
// system's git configuration.
func Head(ctx context.Context, git, dir string) (commit, branch string, err error) {
	run := gitRunner(ctx, git, dir)
	commit, err = run("rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", "", err
	}
	if !objectName.MatchString(commit) {
		return "", "", fmt.Errorf("git rev-parse in %s: %q is no commit", dir, commit)
	}
	branch, err = run("rev-parse", "--abbrev-ref", "HEAD")
	if err != nil || branch == "HEAD" || !commitName.MatchString(strings.ReplaceAll(branch, "/", "-")) {
		branch = ""
	}
	return commit, branch, nil
}

// gitRunner runs git in dir with gitSafe and a bare environment, and
// returns its trimmed output.
func gitRunner(ctx context.Context, git, dir string) func(args ...string) (string, error) {
	if git == "" {
		git = "git"
	}
	return func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, gitTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, git, append(append(append([]string(nil), gitSafe...), "-C", dir), args...)...)
		cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "HOME=/nonexistent", "PATH=/usr/bin:/bin"}
		out, errb := &transport.Bounded{Max: maxGitOutput}, &transport.Bounded{Max: 64 << 10}
		cmd.Stdout, cmd.Stderr = out, errb
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(errb.String())
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			return "", fmt.Errorf("git %s in %s: %w: %.200s", args[0], dir, err, msg)
		}
		if out.Cut() {
			return "", fmt.Errorf("git %s in %s: more than %d MiB of output", args[0], dir, maxGitOutput>>20)
		}
		return strings.TrimSpace(out.String()), nil
	}
}

// maxGitOutput bounds what is kept of a git command's output.
const maxGitOutput = 64 << 20

// maxChanged bounds the files a diff may name.
const maxChanged = 100000

// Changed are the files of dir's project that differ between commit and
// the working tree, relative to dir, slash-separated: the staged and the
// unstaged changes, not untracked files.
//
// git never looks at the working tree here: it could run a clean filter
// (filter.<driver>.clean or .process) that the repository's .git/config
// names for paths its .gitattributes mark, to tell whether a stat-dirty or
// racily clean file changed, as `git diff`, `git status` and
// `git ls-files -m` do. git compares the commit with the index alone
// (`git diff-index --cached`), and the index's blobs are compared here
// with the files' raw contents (workingTreeChanges). A file a filter
// would have changed (end of lines, LFS) counts as changed, so more tests
// run, never fewer.
func Changed(ctx context.Context, git, dir, commit string) ([]string, error) {
	if !objectName.MatchString(commit) {
		return nil, fmt.Errorf("%q is no commit", commit)
	}
	run := gitRunner(ctx, git, dir)
	out, err := run("diff-index", "--cached", "--name-only", "-z", "--relative", "--no-renames", "--no-ext-diff", "--no-textconv", commit, "--")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var files []string
	add := func(f string) error {
		if f == "" || seen[f] {
			return nil
		}
		if len(files) == maxChanged {
			return fmt.Errorf("git diff-index %s names more than %d files", commit, maxChanged)
		}
		seen[f] = true
		files = append(files, f)
		return nil
	}
	for _, f := range strings.Split(out, "\x00") {
		if err := add(f); err != nil {
			return nil, err
		}
	}
	index, err := run("ls-files", "--stage", "-z")
	if err != nil {
		return nil, err
	}
	dirty, err := workingTreeChanges(dir, index)
	if err != nil {
		return nil, err
	}
	for _, f := range dirty {
		if err := add(f); err != nil {
			return nil, err
		}
	}
	return files, nil
}
