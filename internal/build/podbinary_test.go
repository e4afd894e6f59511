package build

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// podLayerLimit is what the test image's binary layer may weigh,
// uncompressed: every node pulls it once per version.
const podLayerLimit = 12_000_000

// TestPodBinaryLayer builds cmd/k8s-testrun-pod as `make build` does and
// makes its layer: one executable at layout.BinaryPath, within the limit.
func TestPodBinaryLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pod binary")
	}
	bin := filepath.Join(t.TempDir(), layout.PodBinaryName)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/k8s-testrun/k8s-testrun/cmd/"+layout.PodBinaryName)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	l, err := binaryLayerIn(t.TempDir(), "layer-*", bin)
	require.NoError(t, err)
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	n := &countingWriter{}
	tr := tar.NewReader(io.TeeReader(rc, n))
	var files []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			files = append(files, "/"+h.Name)
			assert.Equal(t, int64(0o755), h.Mode&0o777, "executable by everyone")
		}
	}
	_, err = io.Copy(io.Discard, io.TeeReader(rc, n))
	require.NoError(t, err)
	assert.Equal(t, []string{layout.BinaryPath}, files)
	t.Logf("pod binary layer: %d bytes uncompressed, %d compressed", n.n, l.size)
	assert.LessOrEqual(t, n.n, int64(podLayerLimit), "the binary layer, uncompressed")
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
