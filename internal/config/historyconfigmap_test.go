package config

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistoryConfigMap(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--history-configmap", "proj-history", "--compare-to", "main", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err, "--compare-to takes the operator's history too")
	assert.Equal(t, "proj-history", c.HistoryConfigMap)
	assert.Equal(t, "main", c.CompareTo)
	c, err = ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--history-configmap", "proj-history", "--fail-on", "new-failures", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err, "--fail-on new-failures takes the operator's comparison too")
	assert.Equal(t, FailOnNewFailures, c.FailOn)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--history-configmap", "h"}, `history configmap "h": is the operator's history store: give --mode operator, or --history DIR in direct mode`},
		{[]string{"--mode", "operator", "--history-configmap", "Not_A_Name"}, `history configmap "Not_A_Name": must be a ConfigMap name`},
	} {
		_, err := ParseRun(append(append([]string{"--repository", "r.io/x"}, tt.args...), dir), env(nil), &bytes.Buffer{})
		var ce *Error
		require.True(t, errors.As(err, &ce), "%v: %v", tt.args, err)
		assert.ErrorContains(t, err, tt.want)
	}
}
