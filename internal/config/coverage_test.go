package config

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCoverageFlag(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "r.io/x", "--coverage", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.Coverage)

	c, err = ParseRun([]string{"--repository", "r.io/x", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.False(t, c.Coverage, "off by default")

	// Operator mode takes it too: the CLI combines the data the operator kept.
	c, err = ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--coverage", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.Coverage)
}

func TestCoverageBadValues(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"not a boolean", []string{"--coverage=maybe"}, `invalid argument "maybe" for "--coverage" flag`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRun(append([]string{"--repository", "r.io/x", dir}, tt.args...), env(nil), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one line")
		})
	}
}
