package app

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func TestTestFootprintsByPod(t *testing.T) {
	project := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.py")
	require.NoError(t, os.WriteFile(outside, []byte("secret"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(project, "pkg"), 0o755))
	for name, text := range map[string]string{"pkg/a.py": "a = 1\n", "pkg/b.py": "b = 2\n", "tests/test_x.py": "def test(): pass\n"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(project, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(project, name), []byte(text), 0o644))
	}
	require.NoError(t, os.Symlink(outside, filepath.Join(project, "pkg", "link.py")))
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

	rep := verdictReport(t0, map[string]plan.Status{"tests/test_x.py::one": plan.Passed, "tests/test_x.py::two": plan.Passed})
	for i := range rep.Cases {
		if rep.Cases[i].Case.TestID == "tests/test_x.py::one" {
			// Two attempts: both pods' files count.
			rep.Cases[i].Attempts = []attempt.Attempt{{Number: 1, Pod: "run-one-1"}, {Number: 2, Pod: "run-one-2", Outcome: plan.Outcome{Status: plan.Passed}}}
		} else {
			rep.Cases[i].Attempts[0].Pod = "run-one-10"
		}
	}
	fp := map[string][]string{
		".coverage.run-one-1.h.1.x":  {"tests/test_x.py", "pkg/a.py"},
		".coverage.run-one-2.h.2.y":  {"pkg/b.py", "pkg/gone.py", "pkg/link.py"},
		".coverage.run-one-10.h.3.z": {"tests/test_x.py", "pkg/b.py"},
	}
	cfg := config.Config{ProjectDir: project, PodPer: config.PodPerTest}
	got := testFootprints(cfg, fp, rep)
	assert.Equal(t, map[string]map[string]string{
		"tests/test_x.py::one": {"tests/test_x.py": sum("def test(): pass\n"), "pkg/a.py": sum("a = 1\n"), "pkg/b.py": sum("b = 2\n")},
		"tests/test_x.py::two": {"tests/test_x.py": sum("def test(): pass\n"), "pkg/b.py": sum("b = 2\n")},
	}, got, "a missing file and a link out of the project are left out")

	cfg.PodPer = config.PodPerFile
	assert.Nil(t, testFootprints(cfg, fp, rep), "a pod of several tests has no per-test footprint")
	cfg.PodPer, cfg.Shards = config.PodPerTest, 2
	assert.Nil(t, testFootprints(cfg, fp, rep))
}
