package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// SaveCoverage writes the coverage.py data files one pod shipped into dir,
// each named coverage.DataPrefix + "." + the pod + "." + what follows the
// prefix in its own name, so that no two pods' files clash and coverage
// combine finds them all. A name the test process chose is reduced to
// characters that cannot leave dir. A file that is no SQLite database (a
// test may write anything there) is left out and reported, since coverage
// combine would stop at it.
func SaveCoverage(dir, pod string, files []transport.File) error {
	if len(files) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("keeping coverage data: %w", err)
	}
	var bad []string
	for _, f := range files {
		if !bytes.HasPrefix(f.Data, sqliteHeader) {
			bad = append(bad, f.Name)
			continue
		}
		rest := strings.TrimPrefix(filepath.Base(f.Name), coverage.DataPrefix)
		name := coverage.DataPrefix + "." + safeName(pod) + safeName(rest)
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
			return fmt.Errorf("keeping coverage data: %w", err)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("left out %s: not coverage.py data (no SQLite database)", strings.Join(bad, ", "))
	}
	return nil
}

// sqliteHeader starts every SQLite database, which coverage.py's data
// files are.
var sqliteHeader = []byte("SQLite format 3\x00")

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}
