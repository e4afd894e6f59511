package config

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRunHistoryFlags(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "r.io/x", "--history", "h", "--compare-to", "main", "--fail-on", "new-failures", "--affected-since", "main", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "h", c.History)
	assert.Equal(t, "main", c.CompareTo)
	assert.Equal(t, FailOnNewFailures, c.FailOn)
	assert.Equal(t, "main", c.AffectedSince)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--compare-to", "main"}, `compare to "main": needs a history store`},
		{[]string{"--fail-on", "new-failures"}, `fail on "new-failures": needs a history store`},
		{[]string{"--affected-since", "main"}, `affected since "main": needs --history`},
		{[]string{"--history", "h", "--fail-on", "sometimes"}, `fail on "sometimes": must be failures or new-failures`},
	} {
		_, err := ParseRun(append(append([]string{"--repository", "r.io/x"}, tt.args...), dir), env(nil), &bytes.Buffer{})
		assert.ErrorContains(t, err, tt.want, "%v", tt.args)
	}
	// Operator mode takes it: the run computes the tests left out and
	// passes them in the TestRun's affectedSince.
	c, err = ParseRun([]string{"--repository", "r.io/x", "--history", "h", "--mode", "operator", "--affected-since", "main", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "main", c.AffectedSince)
}
