package config

import (
	"bytes"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRunShortAndGNUFlags(t *testing.T) {
	dir := t.TempDir()
	c, err := ParseRun([]string{"-p", "8", "-n", "ci", "-v", "-o", "json", "--timeout=90s", "--repository=r.io/x", dir, "--", "-p", "no:cacheprovider", "-k", "fast"}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 8, c.Parallelism)
	assert.Equal(t, "ci", c.Namespace)
	assert.True(t, c.Verbose)
	assert.Equal(t, OutputJSON, c.Output)
	assert.Equal(t, 90*time.Second, c.Timeout)
	assert.Equal(t, dir, c.ProjectDir)
	assert.Equal(t, []string{"-p", "no:cacheprovider", "-k", "fast"}, c.Selection, "everything after -- is pytest's, flags included")
}

func TestParseRunBaseImagesInOrder(t *testing.T) {
	c, err := ParseRun([]string{"--repository", "r.io/x", "--base-image", "py:3.13", "--base-image", "py:3.11", t.TempDir()}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"py:3.13", "py:3.11"}, c.BaseImages, "a repeated --base-image replaces the default and keeps every value")
	assert.Equal(t, "py:3.13", c.BaseImage())
}

func TestParseRunEmptySelectionAfterDash(t *testing.T) {
	c, err := ParseRun([]string{"--repository", "r.io/x", t.TempDir(), "--"}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Empty(t, c.Selection)
}

func TestParseRunPodPerAuto(t *testing.T) {
	c, err := ParseRun([]string{"--repository", "r.io/x", "--pod-per", "auto", t.TempDir()}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, PodPerAuto, c.PodPer)
}

// TestParseRunBadValues covers the input errors that reach Validate.
func TestParseRunBadValues(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"empty base image", []string{"--base-image", ""}, "base image: is required, e.g. python:3.12-slim"},
		{"base image twice", []string{"--base-image", "py:3.11", "--base-image", "py:3.11"}, `base image "py:3.11": is given twice; give each base image once`},
		{"base image not a reference", []string{"--base-image", "Py 3"}, `base image "Py 3": give an image reference`},
		{"matrix too wide", []string{"--base-image", "a:1", "--base-image", "a:2", "--base-image", "a:3", "--base-image", "a:4", "--base-image", "a:5",
			"--base-image", "a:6", "--base-image", "a:7", "--base-image", "a:8", "--base-image", "a:9"}, "give at most 8 base images"},
		{"negative timeout", []string{"--timeout", "-5s"}, `timeout "-5s": must be zero (no timeout) or positive`},
		{"zero pending timeout", []string{"--pending-timeout", "0"}, `pending timeout "0s": must be positive`},
		{"tiny result limit", []string{"--result-limit", "10"}, `result limit "10": must be at least 4096 bytes`},
		{"empty junit path", []string{"--junit", ""}, "junit path: is required"},
		{"output", []string{"-o", "yaml"}, `output "yaml": must be text or json`},
		{"pod per", []string{"--pod-per", "module"}, `pod per "module": must be test, class, file or auto`},
		{"negative shards", []string{"--shards", "-2"}, `shards "-2": must be 0 (off) or more`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRun(append([]string{"--repository", "r.io/x", dir}, tt.args...), env(nil), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestBindRunFlagsGroupsEveryFlag(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var c Config
	BindRunFlags(fs, &c)
	seen := map[string]int{}
	fs.VisitAll(func(f *pflag.Flag) {
		g := FlagGroup(f)
		assert.Contains(t, FlagGroups, g, "flag --%s has a help group", f.Name)
		seen[g]++
	})
	for _, g := range FlagGroups {
		assert.Positive(t, seen[g], "group %s has flags", g)
	}
	assert.Equal(t, DefaultParallelism, c.Parallelism, "defaults are set on binding")
	assert.Equal(t, OutputText, c.Output)
	assert.Equal(t, "p", fs.Lookup("parallelism").Shorthand)
	assert.Equal(t, "n", fs.Lookup("namespace").Shorthand)
	assert.Equal(t, "v", fs.Lookup("verbose").Shorthand)
}
