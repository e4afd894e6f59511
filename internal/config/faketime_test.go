package config

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRunFaketime(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "localhost:5001/x", "--faketime", "2031-06-01 12:00:00", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "2031-06-01 12:00:00", c.Faketime)

	c, err = ParseRun([]string{"--repository", "localhost:5001/x", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Empty(t, c.Faketime, "no faketime unless asked")
}

func TestParseRunRejectsAMalformedFaketimeInOneLine(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"2031-06-01", "+3w", "@+3d", "tomorrow"} {
		_, err := ParseRun([]string{"--repository", "localhost:5001/x", "--faketime", v, dir}, env(nil), &bytes.Buffer{})
		require.Error(t, err, v)
		var cerr *Error
		require.ErrorAs(t, err, &cerr, v)
		assert.Equal(t, "faketime", cerr.Input)
		assert.Equal(t, v, cerr.Value)
		assert.NotContains(t, err.Error(), "\n")
		assert.True(t, strings.Contains(err.Error(), "YYYY-MM-DD hh:mm:ss"), err.Error())
	}
}
