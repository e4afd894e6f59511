package build

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOverlay: the pushed image gains one layer with the files, at their
// paths; its other layers are the image's own and do not travel again.
func TestOverlay(t *testing.T) {
	reg := newTestRegistry(t)
	base := pythonBase(true).image(t)
	d := reg.push(t, reg.ref("tests:base"), base)
	image := reg.ref("tests@" + d.String())

	dir := t.TempDir()
	data := filepath.Join(dir, ".coverage.pod-a.x")
	rc := filepath.Join(dir, "rc")
	require.NoError(t, os.WriteFile(data, []byte("SQLite format 3\x00data"), 0o600))
	require.NoError(t, os.WriteFile(rc, []byte("[report]\n"), 0o600))

	reg.rec.reset()
	res, err := Overlay(context.Background(), OverlayOptions{
		Image: image,
		Files: []OverlayFile{
			{Path: "/opt/k8s-testrun/coverage/data/.coverage.pod-a.x", Src: data},
			{Path: "/opt/k8s-testrun/coverage/coveragerc", Src: rc},
		},
		What:      "coverage data",
		Transport: reg.rec,
	})
	require.NoError(t, err)
	assert.Equal(t, reg.ref("tests@"+res.Digest.String()), res.Image)
	assert.Equal(t, 2, res.UploadedBlobs, "the new layer and the config, nothing of the image below")
	assert.Equal(t, 2, reg.rec.count(http.MethodPost, "/blobs/uploads/"), "two uploads started")

	img := reg.image(t, res.Image)
	got, err := img.Layers()
	require.NoError(t, err)
	below, err := base.Layers()
	require.NoError(t, err)
	require.Len(t, got, len(below)+1)
	for i := range below {
		assert.Equal(t, digestOf(below[i]), digestOf(got[i]))
	}
	hs := layerEntries(t, got[len(got)-1])
	assert.Equal(t, []string{"opt/", "opt/k8s-testrun/", "opt/k8s-testrun/coverage/", "opt/k8s-testrun/coverage/data/",
		"opt/k8s-testrun/coverage/data/.coverage.pod-a.x", "opt/k8s-testrun/coverage/coveragerc"}, entryNames(hs))

	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	baseCfg, err := base.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, baseCfg.Config.Env, cfg.Config.Env, "the image's config is kept")
	assert.Equal(t, "k8s-testrun: coverage data", cfg.History[len(cfg.History)-1].CreatedBy)
}

func TestOverlayErrors(t *testing.T) {
	reg := newTestRegistry(t)
	d := reg.push(t, reg.ref("tests:base"), pythonBase(false).image(t))
	src := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(src, nil, 0o600))
	for name, o := range map[string]OverlayOptions{
		"tag, not digest": {Image: reg.ref("tests:base"), Files: []OverlayFile{{Path: "/f", Src: src}}},
		"no files":        {Image: reg.ref("tests@" + d.String())},
		"relative path":   {Image: reg.ref("tests@" + d.String()), Files: []OverlayFile{{Path: "f", Src: src}}},
		"missing source":  {Image: reg.ref("tests@" + d.String()), Files: []OverlayFile{{Path: "/f", Src: src + "x"}}},
		"unknown image":   {Image: reg.ref("tests@" + "sha256:" + strings.Repeat("0", 64)), Files: []OverlayFile{{Path: "/f", Src: src}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Overlay(context.Background(), o)
			assert.Error(t, err)
		})
	}
}
