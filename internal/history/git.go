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
	if git == "" {
		git = "git"
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, gitTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, git, append(append(append([]string(nil), gitSafe...), "-C", dir), args...)...)
		cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "HOME=/nonexistent", "PATH=/usr/bin:/bin"}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(errb.String())
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			return "", fmt.Errorf("git rev-parse in %s: %w: %.200s", dir, err, msg)
		}
		return strings.TrimSpace(out.String()), nil
	}
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
