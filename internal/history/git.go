package history

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
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
		out, errb := &capped{max: maxGitOutput}, &capped{max: 64 << 10}
		cmd.Stdout, cmd.Stderr = out, errb
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(errb.String())
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			return "", fmt.Errorf("git %s in %s: %w: %.200s", args[0], dir, err, msg)
		}
		if out.over {
			return "", fmt.Errorf("git %s in %s: more than %d MiB of output", args[0], dir, maxGitOutput>>20)
		}
		return strings.TrimSpace(out.b.String()), nil
	}
}

// maxGitOutput bounds what is kept of a git command's output.
const maxGitOutput = 64 << 20

// capped keeps up to max bytes and notes whether more came.
type capped struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); len(p) > room {
		c.over = true
		c.b.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.b.Write(p)
}

func (c *capped) String() string { return c.b.String() }

// maxChanged bounds the files a diff may name.
const maxChanged = 100000

// Changed are the files of dir's project that differ between commit and
// the working tree (`git diff --name-only --relative commit`), relative to
// dir, slash-separated. No external diff or textconv runs, and gitSafe
// keeps the repository's fsmonitor and hooks from running.
func Changed(ctx context.Context, git, dir, commit string) ([]string, error) {
	if !objectName.MatchString(commit) {
		return nil, fmt.Errorf("%q is no commit", commit)
	}
	out, err := gitRunner(ctx, git, dir)("diff", "--name-only", "-z", "--relative", "--no-renames", "--no-ext-diff", "--no-textconv", commit, "--")
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range strings.Split(out, "\x00") {
		if f == "" {
			continue
		}
		if len(files) == maxChanged {
			return nil, fmt.Errorf("git diff %s names more than %d files", commit, maxChanged)
		}
		files = append(files, f)
	}
	return files, nil
}
