package ghaction

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadRerunFailedAndMaxFailures(t *testing.T) {
	ws := workspace(t)
	require.NoError(t, os.MkdirAll(filepath.Join(ws, "reports"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ws, "reports", "junit.xml"),
		[]byte(`<testsuite><testcase classname="tests.test_a" name="test_b"><error message="failed on setup"/></testcase></testsuite>`), 0o644))
	c, _, err := Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x", InputRerunFailed: "reports/junit.xml", InputMaxFailures: "5"}))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(ws, "reports", "junit.xml"), c.RerunFailed, "relative to the workspace")
	require.NotNil(t, c.Rerun)
	assert.Len(t, c.Rerun.Failed, 1)
	assert.Equal(t, 5, c.MaxFailures)

	c, _, err = Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x"}))
	require.NoError(t, err)
	assert.Empty(t, c.RerunFailed)
	assert.Zero(t, c.MaxFailures)
}

func TestReadRerunFailedAndMaxFailuresBad(t *testing.T) {
	ws := workspace(t)
	for _, tt := range []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"max failures not a number", map[string]string{InputMaxFailures: "some"}, `max_failures "some": not a whole number`},
		{"max failures negative", map[string]string{InputMaxFailures: "-3"}, `max_failures "-3": must be 0 (no limit) or more`},
		{"report missing", map[string]string{InputRerunFailed: "old.xml"}, `rerun_failed "` + filepath.Join(ws, "old.xml") + `": does not exist; give the JUnit XML report`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.inputs[InputRepository] = "r.example/x"
			_, _, err := Read(runnerEnv(ws, tt.inputs))
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.want), err.Error())
			assert.NotContains(t, err.Error(), "\n", "one problem, one line")
		})
	}
}
