package build

import (
	"archive/tar"
	"context"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// TestOperatorImage: the operator's image is the binary alone at
// layout.BinaryPath, where the Deployment runs it, pushed by digest; the
// same binary pushes the same image and uploads nothing the second time.
func TestOperatorImage(t *testing.T) {
	reg := newTestRegistry(t)
	bin := fakeBinary(t)
	o := OperatorImageOptions{
		Binary: bin, Platform: v1.Platform{OS: "linux", Architecture: "arm64"},
		Repository: reg.ref("k8s-testrun/operator"), Transport: reg.rec,
	}
	res, err := OperatorImage(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, reg.ref("k8s-testrun/operator")+"@"+res.Digest.String(), res.Image)
	assert.Positive(t, res.UploadedBytes)

	img := reg.image(t, res.Image)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "arm64", cfg.Architecture)
	assert.Equal(t, []string{layout.BinaryPath}, cfg.Config.Entrypoint)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1, "no base")
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			files["/"+h.Name] = h.Mode & 0o777
		}
	}
	assert.Equal(t, map[string]int64{layout.BinaryPath: 0o755}, files)

	again, err := OperatorImage(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, res.Image, again.Image, "reproducible")
	assert.Zero(t, again.UploadedBlobs, "nothing new to upload")

	o.Binary = "/no/such/k8s-testrun"
	_, err = OperatorImage(context.Background(), o)
	assert.EqualError(t, err, `binary "/no/such/k8s-testrun" does not exist`)
}
