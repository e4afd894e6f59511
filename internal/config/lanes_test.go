package config

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLaneFlags(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "r.io/x", "--timeout", "20s", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"serial": {"serial"}, "slow": {"slow"}, "flaky": {"flaky"}, "disruptive": {"disruptive"}}, c.LaneMarkers)
	assert.Equal(t, 60*time.Second, c.EffectiveSlowTimeout(), "3× --timeout by default")
	assert.Equal(t, DefaultFlakyRetries, c.FlakyRetries)

	c, err = ParseRun([]string{"--repository", "r.io/x", "--lane", "serial=serial, db_migration", "--lane", "serial=exclusive",
		"--lane", "slow=long", "--slow-timeout", "45m", "--flaky-retries", "0", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"serial", "db_migration", "exclusive"}, c.LaneMarkers["serial"], "repeated mappings add up")
	assert.Equal(t, []string{"long"}, c.LaneMarkers["slow"], "a mapping replaces the default marker")
	assert.Equal(t, []string{"flaky"}, c.LaneMarkers["flaky"])
	assert.Equal(t, 45*time.Minute, c.EffectiveSlowTimeout())
	assert.Zero(t, c.FlakyRetries)
}

func TestLaneFlagsBadValues(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown policy", []string{"--lane", "fast=quick"}, `lane "fast=quick": unknown policy "fast"; use serial, slow, flaky or disruptive`},
		{"no equals", []string{"--lane", "serial"}, `lane "serial": give POLICY=MARKER[,MARKER...]`},
		{"empty marker list", []string{"--lane", "serial=,"}, `lane "serial=,": no marker for serial; give at least one, e.g. serial=serial`},
		{"bad marker name", []string{"--lane", "slow=a-b"}, `lane "slow=a-b": marker "a-b" is not a pytest marker name`},
		{"negative slow timeout", []string{"--slow-timeout", "-1s"}, `slow timeout "-1s": must be positive`},
		{"negative flaky retries", []string{"--flaky-retries", "-1"}, `flaky retries "-1": must be 0 or more`},
		{"operator mode, flaky retries above the TestRun's maximum", []string{"--mode", "operator", "--flaky-retries", "11"}, `flaky retries "11": must be at most 10 in operator mode`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRun(append([]string{"--repository", "r.io/x", dir}, tt.args...), env(nil), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one line")
		})
	}
}

// Operator mode takes the lane flags: they go into the TestRun's spec.
func TestLaneFlagsInOperatorMode(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--lane", "serial=serial,db", "--slow-timeout", "20m", "--flaky-retries", "3", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"serial", "db"}, c.LaneMarkers["serial"])
	assert.Equal(t, 20*time.Minute, c.SlowTimeout)
	assert.Equal(t, 3, c.FlakyRetries)
}
