package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
)

// TestOperatorAffectedListsWhatNoChangeTouches: in operator mode the run
// computes, with direct mode's git diff and rules, the base's tests the
// change cannot affect, for spec.affectedSince; a change that calls for
// every test (here conftest.py) leaves it unset.
func TestOperatorAffectedListsWhatNoChangeTouches(t *testing.T) {
	git, repo, gitRun := gitRepo(t, "", map[string]string{"lib/a.py": "a = 1\n", "lib/b.py": "b = 1\n", "tests/test_x.py": "def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n"})
	commit, _, err := history.Head(context.Background(), git, repo)
	require.NoError(t, err)

	digest := v1.Hash{Algorithm: "sha256", Hex: "aa"}
	hist := t.TempDir()
	r := history.NewRecord(commit, "main", t0, []history.Test{
		{ID: "tests/test_x.py::test_a", Verdict: history.VerdictPassed}, {ID: "tests/test_x.py::test_b", Verdict: history.VerdictPassed},
		{ID: "tests/test_x.py::test_c", Verdict: history.VerdictFailed}})
	r.Footprints = map[string]map[string]string{"tests/test_x.py::test_a": {"lib/a.py": "x"}, "tests/test_x.py::test_b": {"lib/b.py": "y"},
		"tests/test_x.py::test_c": {"lib/b.py": "y"}}
	r.BaseDigest = digest.String()
	require.NoError(t, history.Store{Dir: hist}.Save(r))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "lib", "a.py"), []byte("a = 2\n"), 0o644))

	var logs bytes.Buffer
	p := &pipeline{cfg: config.Config{History: hist, AffectedSince: commit[:8], ProjectDir: repo, Mode: config.ModeOperator},
		log: slog.New(slog.NewTextHandler(&logs, nil)), image: build.Result{BaseDigest: digest}}
	got, err := p.operatorAffected(context.Background())
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, v1alpha1.AffectedSince{Commit: commit, NotAffected: []string{"tests/test_x.py::test_b"}}, *got,
		"test_a's footprint holds the change; test_c failed on the base")

	require.NoError(t, os.WriteFile(filepath.Join(repo, "conftest.py"), []byte("\n"), 0o644))
	gitRun("add", "-A")
	got, err = p.operatorAffected(context.Background())
	require.NoError(t, err)
	assert.Nil(t, got, "a new conftest.py runs every test")
	assert.Contains(t, logs.String(), "running every test: conftest.py changed")

	p.cfg.AffectedSince = ""
	got, err = p.operatorAffected(context.Background())
	require.NoError(t, err)
	assert.Nil(t, got)
}
