package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// TestAffectedSkipsWhatNoChangeTouches: a change to one library file runs
// the test whose footprint holds it and reports the other as skipped, with
// its message and JUnit property; a changed base image runs everything.
func TestAffectedSkipsWhatNoChangeTouches(t *testing.T) {
	git, repo, _ := gitRepo(t, "", map[string]string{"lib/a.py": "a = 1\n", "lib/b.py": "b = 1\n", "tests/test_x.py": "def test_a(): pass\ndef test_b(): pass\n"})
	commit, _, err := history.Head(context.Background(), git, repo)
	require.NoError(t, err)

	digest := v1.Hash{Algorithm: "sha256", Hex: "aa"}
	hist := t.TempDir()
	r := history.NewRecord(commit, "main", t0, []history.Test{
		{ID: "tests/test_x.py::test_a", Verdict: history.VerdictPassed}, {ID: "tests/test_x.py::test_b", Verdict: history.VerdictPassed}})
	r.Footprints = map[string]map[string]string{"tests/test_x.py::test_a": {"lib/a.py": "x"}, "tests/test_x.py::test_b": {"lib/b.py": "y"}}
	r.BaseDigest = digest.String()
	require.NoError(t, history.Store{Dir: hist}.Save(r))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "lib", "a.py"), []byte("a = 2\n"), 0o644))

	var logs bytes.Buffer
	p := &pipeline{cfg: config.Config{History: hist, AffectedSince: commit, ProjectDir: repo},
		log: slog.New(slog.NewTextHandler(&logs, nil)), image: build.Result{BaseDigest: digest}}
	cases := []plan.Case{{ID: "a", TestID: "tests/test_x.py::test_a"}, {ID: "b", TestID: "tests/test_x.py::test_b"}, {ID: "c", TestID: "tests/test_x.py::test_new"}}
	run, skipped, err := p.affected(context.Background(), cases)
	require.NoError(t, err)
	assert.Equal(t, []plan.Case{cases[0], cases[2]}, run)
	require.Len(t, skipped, 1)
	rep := report.NewReport("r", "i", "", t0, 0, skipped)
	tc := rep.Testcases()[0]
	assert.Equal(t, junit.StatusSkipped, tc.Status())
	assert.Equal(t, "not affected since "+commit[:12]+": last passed at "+commit[:12], tc.Skipped.Message)
	assert.Contains(t, tc.Properties, junit.Property{Name: junit.PropertyNotAffected, Value: commit})
	assert.Contains(t, logs.String(), "1 of 3 tests not affected")

	p.image.BaseDigest = v1.Hash{Algorithm: "sha256", Hex: "bb"}
	run, skipped, err = p.affected(context.Background(), cases)
	require.NoError(t, err)
	assert.Equal(t, cases, run, "another base image runs everything")
	assert.Empty(t, skipped)
	assert.Contains(t, logs.String(), "running every test: the base image's digest is sha256:bb")

	p.cfg.AffectedSince = "develop"
	run, _, err = p.affected(context.Background(), cases)
	require.NoError(t, err)
	assert.Equal(t, cases, run, "a base not in the history runs everything")
	assert.Contains(t, logs.String(), "develop is not recorded")
}

// gitRepo commits files to a new repository (on branch, or git's default
// when empty) and returns the git binary, the repository and a func that
// runs git in it; without git the test is skipped.
func gitRepo(t *testing.T, branch string, files map[string]string) (git, repo string, run func(args ...string)) {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	repo = t.TempDir()
	run = func(args ...string) {
		t.Helper()
		cmd := exec.Command(git, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	for name, text := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(repo, name), []byte(text), 0o644))
	}
	initArgs := []string{"init", "-q"}
	if branch != "" {
		initArgs = append(initArgs, "-b", branch)
	}
	run(initArgs...)
	run("add", "-A")
	run("commit", "-q", "-m", "one")
	return git, repo, run
}
