package coverage

import (
	"bytes"
	"context"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// footprintPython is a python with coverage.py: python3 on PATH, else
// Debian's, else the test skips.
func footprintPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if python, err := exec.LookPath(p); err == nil && exec.Command(python, "-m", "coverage", "--version").Run() == nil {
			return python
		}
	}
	t.Skip("no python3 with coverage.py")
	return ""
}

// TestCombinePrintsEachDataFilesFootprint: two processes, as two pods,
// each run a different module; the coverage pod's block has, beside the
// report, each data file's measured files, which ReadFootprints gives
// relative to the workspace.
func TestCombinePrintsEachDataFilesFootprint(t *testing.T) {
	python := footprintPython(t)
	work, data := t.TempDir(), t.TempDir()
	for name, text := range map[string]string{
		"pkg/a.py": "def f():\n    return 1\n",
		"pkg/b.py": "def g():\n    return 2\n",
		"main.py":  "import sys\nsys.path.insert(0, 'pkg')\nimport a\na.f()\n",
		"other.py": "import sys\nsys.path.insert(0, 'pkg')\nimport b\nb.g()\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(work, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(work, name), []byte(text), 0o644))
	}
	for i, script := range []string{"main.py", "other.py"} {
		cmd := exec.Command(python, "-m", "coverage", "run", "--parallel-mode", "--include="+work+"/*", script)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), DataFileEnv+"="+filepath.Join(data, DataPrefix+".pod-"+string(rune('a'+i))))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	rc := filepath.Join(t.TempDir(), "coveragerc")
	require.NoError(t, os.WriteFile(rc, []byte(Rcfile(work, nil)), 0o644))
	var stdout, stderr bytes.Buffer
	code, err := Combine(context.Background(), CombineOptions{Python: python, DataDir: data, Rcfile: rc, Dir: work, Env: os.Environ()}, &stdout, &stderr)
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.Equal(t, 0, code)
	_, err = ReadReport(stdout.Bytes())
	require.NoError(t, err, "the report is still there")

	fp, err := ReadFootprints(stdout.Bytes(), work)
	require.NoError(t, err)
	byPod := map[string][]string{}
	for name, files := range fp {
		pod := strings.SplitN(strings.TrimPrefix(name, DataPrefix+"."), ".", 2)[0]
		sort.Strings(files)
		byPod[pod] = files
	}
	assert.Equal(t, map[string][]string{"pod-a": {"main.py", "pkg/a.py"}, "pod-b": {"other.py", "pkg/b.py"}}, byPod)
}

func TestReadFootprintsKeepsToTheWorkspace(t *testing.T) {
	var block bytes.Buffer
	require.NoError(t, transport.Encode(&block, []transport.File{
		{Name: ReportFile, Data: []byte("<coverage/>")},
		{Name: FootprintsFile, Data: []byte(`{".coverage.p.1": ["/workspace/a.py", "/workspace/../etc/passwd", "/usr/lib/x.py", "/workspaces/b.py", "/workspace/sub/c.py"]}`)},
	}, BlockLimit))
	fp, err := ReadFootprints(block.Bytes(), "/workspace")
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{".coverage.p.1": {"a.py", "sub/c.py"}}, fp)

	block.Reset()
	require.NoError(t, transport.Encode(&block, []transport.File{{Name: ReportFile, Data: []byte("<coverage/>")}}, BlockLimit))
	fp, err = ReadFootprints(block.Bytes(), "/workspace")
	require.NoError(t, err)
	assert.Empty(t, fp, "an older pod's block has none")
}

func TestFootprintsNeverCrowdOutTheReport(t *testing.T) {
	xml := bytes.Repeat([]byte("<line/>"), 1000)
	// Random bytes do not compress: they cannot fit the block.
	big := make([]byte, 1<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(big)
	b, err := encodeWithFootprints(xml, []byte(base64.StdEncoding.EncodeToString(big)), 64<<10)
	require.NoError(t, err)
	got, err := ReadReport(b)
	require.NoError(t, err)
	assert.Equal(t, xml, got)
	fp, err := ReadFootprints(b, "/workspace")
	require.NoError(t, err)
	assert.Empty(t, fp, "the footprints gave way")
}
