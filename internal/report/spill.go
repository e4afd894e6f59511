package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// SpillArtifacts writes the data of files under dir, in a directory of
// pod's own, and returns them with Data dropped and Spilled set: a run's
// artifacts wait for the report on disk, not in memory.
func SpillArtifacts(dir, pod string, files []transport.File) ([]transport.File, error) {
	if len(files) == 0 {
		return files, nil
	}
	podDir := filepath.Join(dir, safeName(pod))
	if err := os.MkdirAll(podDir, 0o700); err != nil {
		return files, fmt.Errorf("keeping artifacts on disk: %w", err)
	}
	out := make([]transport.File, len(files))
	for i, f := range files {
		out[i] = f
		if f.Spilled != "" {
			continue
		}
		path := filepath.Join(podDir, strconv.Itoa(i))
		if err := os.WriteFile(path, f.Data, 0o600); err != nil {
			return files, fmt.Errorf("keeping artifacts on disk: %w", err)
		}
		out[i].Data, out[i].Spilled = nil, path
	}
	return out, nil
}

// artifactData is a file's data, read back from disk when it was spilled.
func artifactData(f transport.File) ([]byte, error) {
	if f.Spilled == "" {
		return f.Data, nil
	}
	return os.ReadFile(f.Spilled)
}
