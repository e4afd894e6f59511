package build

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// depsTags lists the dependency cache tags of repository.
func depsTags(t *testing.T, repository string) []string {
	t.Helper()
	repo, err := name.NewRepository(repository)
	require.NoError(t, err)
	tags, err := remote.List(repo)
	require.NoError(t, err)
	var out []string
	for _, tag := range tags {
		if strings.HasPrefix(tag, "deps-") {
			out = append(out, repo.Tag(tag).String())
		}
	}
	return out
}

// forgedDeps is what a test pod that can push to the repository would put
// under a dependencies cache tag: a layer of its own, labelled as ours.
func forgedDeps(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, tarLayer(t, map[string]string{
		"opt/k8s-testrun/deps/evil/__init__.py": "import os\n",
	}))
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Labels = map[string]string{labelPython: "3.11", labelPytest: "base"}
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	return img
}

// TestBuildIgnoresForgedDepsTag checks that a dependencies cache tag is
// only reused when its layer is the one this machine recorded for the key.
func TestBuildIgnoresForgedDepsTag(t *testing.T) {
	for _, tt := range []struct {
		name string
		// forge replaces the cache tag before the second build; the first
		// build runs with a cache directory of its own when fresh.
		freshRecord bool
	}{
		{name: "forged after a run of ours"},
		{name: "forged on a machine that never built", freshRecord: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := newTestRegistry(t)
			base := reg.ref("library/python:3.11")
			reg.push(t, base, pythonBase(true).image(t))
			pip := newFakePip(t, fakePipScript)
			opts := reg.options(t, newProject(t, map[string]string{"requirements.txt": "six\n"}), base, pip)
			first := opts
			if tt.freshRecord {
				first.CacheDir = t.TempDir()
			}
			_, err := Build(context.Background(), first)
			require.NoError(t, err)
			tags := depsTags(t, opts.Repository)
			require.Len(t, tags, 1)
			evil := forgedDeps(t)
			reg.push(t, tags[0], evil)
			evilLayers, err := evil.Layers()
			require.NoError(t, err)
			evilDigest, err := evilLayers[0].Digest()
			require.NoError(t, err)

			res, err := Build(context.Background(), opts)
			require.NoError(t, err)
			assert.True(t, res.PipRan, "the forged layer was taken from the cache")
			assert.Len(t, pip.runs(t), 2)
			assert.NotContains(t, layerDigests(t, reg.image(t, res.Image)), evilDigest)

			// The rebuilt layer is recorded and its tag restored: the next
			// build reuses it.
			again, err := Build(context.Background(), opts)
			require.NoError(t, err)
			assert.False(t, again.PipRan)
			assert.Equal(t, res.Digest, again.Digest)
		})
	}
}
