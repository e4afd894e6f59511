package ghaction

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

// TestReadHistoryInputs: history_path is relative to the workspace; the
// run is recorded as GITHUB_SHA on the pull request's head branch and
// compared, by default, with its base branch; fail_on new-failures reaches
// the run's config.
func TestReadHistoryInputs(t *testing.T) {
	ws := workspace(t)
	cfg, s, err := Read(runnerEnv(ws, map[string]string{InputRepository: "localhost:5001/tests", InputHistoryPath: ".cache/history",
		InputFailOn: FailOnNewFailures, "GITHUB_SHA": "abc", "GITHUB_HEAD_REF": "feature", "GITHUB_BASE_REF": "main", "GITHUB_REF_NAME": "3/merge"}))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(ws, ".cache", "history"), cfg.History)
	assert.Equal(t, "abc", cfg.HistoryCommit)
	assert.Equal(t, "feature", cfg.HistoryBranch)
	assert.Equal(t, []string{"main"}, cfg.CompareDefaults)
	assert.Empty(t, cfg.CompareTo)
	assert.Equal(t, FailOnNewFailures, s.FailOn)
	assert.Equal(t, config.FailOnNewFailures, cfg.FailOn)

	// Without history_path there is nothing to compare with.
	_, _, err = Read(runnerEnv(ws, map[string]string{InputRepository: "localhost:5001/tests", InputFailOn: FailOnNewFailures, InputCompareTo: "main"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `fail_on "new-failures": needs a history store`)
	assert.Contains(t, err.Error(), `compare_to "main": needs a history store`)
}

func TestReadContextBaseSHA(t *testing.T) {
	event := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(event, []byte(`{"pull_request": {"head": {"sha": "h", "repo": {"full_name": "o/r"}}, "base": {"sha": "b4se", "repo": {"full_name": "o/r"}}}}`), 0o644))
	c, err := ReadContext(env(map[string]string{"GITHUB_EVENT_PATH": event, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_SHA": "m"}))
	require.NoError(t, err)
	assert.Equal(t, "b4se", c.BaseSHA)
	assert.Equal(t, "h", c.HeadSHA)
}
