package config

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/k8s-testrun/k8s-testrun/internal/rerun"
)

// Load reads what the Config names on disk, once, before Validate checks
// the whole: it checks that the project directory and its requirements
// file exist, and reads the pod template (PodTemplatePath into
// PodTemplate), the report of --rerun-failed (into Rerun) and the
// quarantine file (into QuarantineList); it also resolves the lane
// mappings into LaneMarkers (a bad mapping is Validate's to report). What
// is already loaded is kept. Every problem is an *Error naming the input.
func (c *Config) Load() error {
	var errs []error
	bad := func(input, value, fix string) { errs = append(errs, &Error{Input: input, Value: value, Fix: fix}) }
	if st, err := os.Stat(c.ProjectDir); err != nil || !st.IsDir() {
		bad("project directory", c.ProjectDir, "does not exist or is not a directory; give the path of the Python project to test")
	}
	if c.Requirements != "" && c.ProjectDir != "" {
		if _, err := os.Stat(filepath.Join(c.ProjectDir, c.Requirements)); err != nil {
			bad("requirements", c.Requirements, "not found in the project directory; give a path relative to it")
		}
	}
	if c.PodTemplatePath != "" && c.PodTemplate == nil {
		b, err := os.ReadFile(c.PodTemplatePath)
		if err != nil {
			bad("pod template", c.PodTemplatePath, "cannot be read: "+errors.Unwrap(err).Error()+"; give the path of a pod template in YAML")
		}
		c.PodTemplate = b
	}
	c.loadRerun(bad)
	errs = append(errs, c.loadQuarantine()...)
	if c.LaneMarkers == nil {
		if lanes, err := ParseLanes(c.Lanes); err == nil {
			c.LaneMarkers = lanes
		}
	}
	return errors.Join(errs...)
}

// LoadAndValidate is Load then Validate, with the problems of both in one
// flat errors.Join.
func (c *Config) LoadAndValidate() error {
	errs := Unjoin(c.Load())
	errs = append(errs, Unjoin(c.Validate())...)
	return errors.Join(errs...)
}

// loadRerun reads the report --rerun-failed names, once.
func (c *Config) loadRerun(bad func(input, value, fix string)) {
	if c.RerunFailed == "" || c.Rerun != nil {
		return
	}
	rep, err := rerun.Load(c.RerunFailed)
	var fe *rerun.FileError
	switch {
	case errors.As(err, &fe):
		bad("rerun failed", c.RerunFailed, fe.Problem+"; give the JUnit XML report of an earlier run (k8s-testrun's, or pytest's --junitxml)")
	case err != nil:
		bad("rerun failed", c.RerunFailed, err.Error())
	}
	c.Rerun = rep
}
