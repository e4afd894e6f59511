package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
)

// loadQuarantine reads the quarantine file, the one given or the
// project's default when present: one error for each bad entry.
func (c *Config) loadQuarantine() []error {
	if c.QuarantineList != nil {
		return nil
	}
	file, display := c.Quarantine, c.Quarantine
	if file == "" {
		if c.ProjectDir == "" {
			return nil
		}
		file = filepath.Join(c.ProjectDir, quarantine.DefaultPath)
		if _, err := os.Lstat(file); err != nil {
			return nil
		}
		display = file
	}
	l, err := loadQuarantineFile(c.ProjectDir, file, display)
	if err == nil {
		c.QuarantineList = l
		return nil
	}
	var out []error
	for _, e := range Unjoin(err) {
		var ee *quarantine.EntryError
		if errors.As(e, &ee) {
			out = append(out, &Error{Input: "quarantine", Fix: ee.Line})
			continue
		}
		out = append(out, &Error{Input: "quarantine", Value: display, Fix: "cannot be read: " + oneLine(e) + "; give the path of a quarantine YAML file"})
	}
	return out
}

// loadQuarantineFile reads file. One inside the project is opened through
// an os.Root of the project, so a symbolic link of the project's cannot
// lead to a file outside it; a path outside the project is the caller's
// own choice.
func loadQuarantineFile(projectDir, file, display string) (*quarantine.List, error) {
	var f *os.File
	var err error
	if rel, rerr := filepath.Rel(projectDir, file); projectDir != "" && rerr == nil && filepath.IsLocal(rel) {
		var root *os.Root
		if root, err = os.OpenRoot(projectDir); err == nil {
			defer root.Close()
			f, err = root.Open(rel)
		}
	} else {
		f, err = os.Open(file)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return quarantine.Load(f, display)
}

// Unjoin returns the errors an errors.Join holds, or err alone.
func Unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func oneLine(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
