// Package history is a run's memory of earlier runs. The store (a
// directory a workflow carries with actions/cache, or records packed into a
// ConfigMap in operator mode) keeps per commit each test's verdict,
// duration, attempts and footprint; from it come the durations that order
// and balance a run, the comparison with a base commit, and the tests a
// change can affect. The older durations file is read and written here too.
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Version is the file format's version.
const Version = 1

// File is the durations file:
//
//	{"version": 1, "tests": {"tests/test_a.py::test_x": 0.25, ...}, "pod_overhead_seconds": 3.1}
//
// with each test's last duration in seconds, and the last run's mean
// per-pod overhead (see SetOverhead), absent when unknown.
type File struct {
	Version     int                `json:"version"`
	Tests       map[string]float64 `json:"tests"`
	PodOverhead float64            `json:"pod_overhead_seconds,omitempty"`
}

// Load reads a durations file. A missing file is an empty history, not an
// error: the first run of a project has none.
func Load(path string) (map[string]time.Duration, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]time.Duration{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading durations file %s: %w", path, err)
	}
	out, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("durations file %s: %w", path, err)
	}
	return out, nil
}

// Decode reads a history in the durations file's format, wherever it is
// kept (a file, a ConfigMap).
func Decode(b []byte) (map[string]time.Duration, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w (delete it, or give a file this version wrote)", err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("version %d, want %d (delete it to start a new history)", f.Version, Version)
	}
	out := make(map[string]time.Duration, len(f.Tests))
	for id, s := range f.Tests {
		if s >= 0 && !math.IsInf(s, 0) && !math.IsNaN(s) {
			out[id] = time.Duration(s * float64(time.Second))
		}
	}
	return out, nil
}

// Encode is old updated with this run's durations, in the durations file's
// format: a test that ran takes its new duration, one that did not keeps
// its old one.
func Encode(old, ran map[string]time.Duration) ([]byte, error) {
	f := File{Version: Version, Tests: make(map[string]float64, len(old)+len(ran))}
	for id, d := range old {
		f.Tests[id] = d.Seconds()
	}
	for id, d := range ran {
		f.Tests[id] = math.Round(d.Seconds()*1000) / 1000
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Save writes old updated with this run's durations: a test that ran takes
// its new duration, one that did not keeps its old one. The file is
// replaced whole, by rename.
func Save(path string, old, ran map[string]time.Duration) error {
	b, err := Encode(old, ran)
	if err != nil {
		return err
	}
	return replace(path, b)
}

// replace writes the file whole, by rename.
func replace(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing durations file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing durations file: %w", err)
	}
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Chmod(0o644), tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing durations file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing durations file: %w", err)
	}
	return nil
}

// Overhead is the per-pod overhead a durations file holds; 0 when the file
// is missing or holds none.
func Overhead(path string) (time.Duration, error) {
	f, err := readFile(path)
	if err != nil || f == nil {
		return 0, err
	}
	s := f.PodOverhead
	if s <= 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return 0, nil
	}
	return time.Duration(s * float64(time.Second)), nil
}

// SetOverhead records in a durations file, after Save, the mean per-pod
// overhead the run measured: the time its pods spent outside their tests.
// A missing file is left missing.
func SetOverhead(path string, d time.Duration) error {
	f, err := readFile(path)
	if err != nil || f == nil {
		return err
	}
	f.PodOverhead = math.Round(d.Seconds()*1000) / 1000
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return replace(path, append(b, '\n'))
}

func readFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading durations file %s: %w", path, err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("durations file %s: %w (delete it, or give a file this version wrote)", path, err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("durations file %s: version %d, want %d (delete it to start a new history)", path, f.Version, Version)
	}
	return &f, nil
}
