package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filesConfig is a Config that is valid but for the files it names, none
// of which exists under missing.
func filesConfig(missing string) Config {
	return Config{
		ProjectDir:      filepath.Join(missing, "project"),
		Requirements:    "reqs.txt",
		BaseImages:      []string{DefaultBaseImage},
		Platform:        DefaultPlatform,
		Parallelism:     2,
		Timeout:         time.Minute,
		PendingTimeout:  time.Minute,
		Sidecar:         SidecarAuto,
		ResultLimit:     DefaultResultLimit,
		JUnitPath:       filepath.Join(missing, "junit.xml"),
		PodTemplatePath: filepath.Join(missing, "template.yaml"),
		RerunFailed:     filepath.Join(missing, "last.xml"),
		Quarantine:      filepath.Join(missing, "quarantine.yaml"),
		DurationsFile:   filepath.Join(missing, "durations.json"),
		Lanes:           []string{"serial=serial,db"},
	}
}

// TestValidateIsAPureCheck: Validate opens none of the files a Config
// names and changes nothing in it; Load reads them and reports each one
// that is missing.
func TestValidateIsAPureCheck(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	c := filesConfig(missing)
	require.NoError(t, c.Validate(), "no file is opened, so none is missing")
	assert.Equal(t, filesConfig(missing), c, "Validate changes nothing")

	bad := filesConfig(missing)
	bad.Lanes = []string{"fast=quick"}
	bad.Parallelism = 0
	assert.ErrorContains(t, bad.Validate(), `lane "fast=quick"`)
	want := filesConfig(missing)
	want.Lanes, want.Parallelism = []string{"fast=quick"}, 0
	assert.Equal(t, want, bad, "a failing Validate changes nothing either")

	err := c.Load()
	require.Error(t, err)
	got := map[string]bool{}
	for _, e := range Unjoin(err) {
		var ce *Error
		require.ErrorAs(t, e, &ce)
		got[ce.Input] = true
	}
	assert.Equal(t, map[string]bool{"project directory": true, "requirements": true, "pod template": true, "rerun failed": true, "quarantine": true}, got,
		"Load reads each file: %v", err)
	assert.Equal(t, []string{"serial", "db"}, c.LaneMarkers["serial"], "Load resolves the lanes")
}
