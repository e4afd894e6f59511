package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/collectcache"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/shim"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// sampleCollection is a discovery pod's log for ids.
func sampleCollection(t *testing.T, ids ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, id := range ids {
		b.WriteString(id + "\n")
	}
	fmt.Fprintf(&b, "\n%d tests collected in 0.01s\n", len(ids))
	xml := `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="0" time="0.01"/></testsuites>`
	require.NoError(t, transport.Encode(&b, []transport.File{{Name: discover.JUnitFile, Data: []byte(xml)}}, transport.DefaultBlock))
	return b.Bytes()
}

// machine is the environment of a process on a machine of its own: a home
// with its own cache directory.
func machine(t *testing.T) []string { return []string{"HOME=" + t.TempDir()} }

// A run whose image already carries the collection of the same key, stored
// by a run on the same machine, starts no discovery pod and finds the same
// tests; a run with another selection, or on a fresh machine, starts one.
func TestDiscoverFromTheCollectionCache(t *testing.T) {
	ctx := context.Background()
	repo, digest, _ := testImage(t)
	ids := []string{"tests/test_a.py::test_one", "tests/test_a.py::test_two"}
	logs, _, created := coverageCluster(t, 0, sampleCollection(t, ids...))
	here := machine(t)
	newRunOn := func(environ []string, runID string, selection ...string) (*pipeline, *base) {
		p := &pipeline{
			cfg:     config.Config{Repository: repo, Selection: selection, ProjectDir: t.TempDir()},
			log:     slog.New(slog.DiscardHandler),
			cluster: &k8s.Cluster{Client: logs, Namespace: "ns"},
			runID:   runID,
			stderr:  io.Discard,

			collections: newCollectionCache(environ, slog.New(slog.DiscardHandler)),
		}
		require.NotNil(t, p.collections)
		return p, &base{ref: "python:3", image: build.Result{Image: "pull.example/proj@" + digest.String(), Digest: digest}}
	}
	newRun := func(runID string, selection ...string) (*pipeline, *base) {
		return newRunOn(here, runID, selection...)
	}

	p, b := newRun("r1", "-k", "a")
	found, err := p.discover(ctx, b, "discover")
	require.NoError(t, err)
	assert.Equal(t, ids, found.IDs)
	require.Len(t, *created, 1, "the first run discovers in a pod")
	assert.Equal(t, "pull.example/proj@"+digest.String(), (*created)[0].Spec.Containers[0].Image)

	p, b = newRun("r2", "-k", "a")
	found, err = p.discover(ctx, b, "discover")
	require.NoError(t, err)
	assert.Equal(t, ids, found.IDs)
	assert.Len(t, *created, 1, "a repeat run creates no discovery pod")

	p, b = newRun("r3", "-k", "b")
	_, err = p.discover(ctx, b, "discover")
	require.NoError(t, err)
	require.Len(t, *created, 2, "another selection discovers again")
	assert.Equal(t, "ktr-r3-discover", (*created)[1].Name)

	// The record of what was stored is on the machine that stored it.
	records, err := filepath.Glob(filepath.Join(strings.TrimPrefix(here[0], "HOME="), ".cache", "k8s-testrun", "build", collectcache.RecordKind, "*.json"))
	require.NoError(t, err)
	assert.Len(t, records, 2, "one record for each key")

	p, b = newRunOn(machine(t), "r4", "-k", "a")
	found, err = p.discover(ctx, b, "discover")
	require.NoError(t, err)
	assert.Equal(t, ids, found.IDs)
	require.Len(t, *created, 3, "a fresh machine discovers once, though the artifact is in the registry")
	p, b = newRun("r5", "-k", "a")
	_, err = p.discover(ctx, b, "discover")
	require.NoError(t, err)
	assert.Len(t, *created, 3)
}

// Without a cache directory (neither HOME nor XDG_CACHE_HOME), there is
// nowhere to record a collection: discovery runs every time.
func TestNoCollectionCacheWithoutACacheDirectory(t *testing.T) {
	assert.Nil(t, newCollectionCache(nil, slog.New(slog.DiscardHandler)))
	assert.NotNil(t, newCollectionCache([]string{"XDG_CACHE_HOME=" + t.TempDir()}, slog.New(slog.DiscardHandler)))
}

// A collection that failed is not kept: the next run discovers again.
func TestFailedDiscoveryIsNotCached(t *testing.T) {
	ctx := context.Background()
	repo, digest, _ := testImage(t)
	logs, _, created := coverageCluster(t, 2, []byte("ERROR tests/test_a.py\n"))
	here := machine(t)
	for i := range 2 {
		p := &pipeline{
			cfg:     config.Config{Repository: repo, ProjectDir: t.TempDir()},
			log:     slog.New(slog.DiscardHandler),
			cluster: &k8s.Cluster{Client: logs, Namespace: "ns"},
			runID:   fmt.Sprintf("r%d", i),
			stderr:  io.Discard,

			collections: newCollectionCache(here, slog.New(slog.DiscardHandler)),
		}
		_, err := p.discover(ctx, &base{ref: "python:3", image: build.Result{Image: repo + "@" + digest.String(), Digest: digest}}, "discover")
		require.Error(t, err)
	}
	assert.Len(t, *created, 2)
}

// The key holds what the collection depends on besides the image: a
// change to the selection, the command (--coverage adds a flag), the base,
// the pod template or the injected plugins changes it.
func TestCollectionKey(t *testing.T) {
	p := &pipeline{cfg: config.Config{Selection: []string{"-k", "a"}}}
	b := &base{ref: "python:3"}
	argv := discover.Command("/ktr", p.cfg.Selection)
	k := p.collectionKey(b, argv)
	assert.Equal(t, shim.PluginsDigest(), k.Plugins)
	assert.Equal(t, "python:3", k.Base)
	assert.Equal(t, []string{"-k", "a"}, k.Selection)
	assert.Empty(t, k.Template)

	digests := map[string]string{"plain": k.Digest()}
	digests["coverage"] = p.collectionKey(b, discover.WithCoverageCheck(argv)).Digest()
	digests["base"] = p.collectionKey(&base{ref: "python:3.13"}, argv).Digest()
	p.cfg.PodTemplate = []byte("env: [{name: A, value: b}]\n")
	digests["template"] = p.collectionKey(b, argv).Digest()
	p.cfg.PodTemplate, p.cfg.Selection = nil, []string{"-k", "b"}
	digests["selection"] = p.collectionKey(b, argv).Digest()
	seen := map[string]string{}
	for what, d := range digests {
		assert.Empty(t, seen[d], "%s has the key of %s", what, seen[d])
		seen[d] = what
	}
}

// The test image is reached as the build pushed it: plain HTTP for a local
// registry (*.localhost, localhost) and for one the cluster advertised.
func TestCollectionImageSchemeIsTheBuilds(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		repo     string
		insecure bool
		scheme   string
	}{
		{"kind-registry.localhost:5000/proj", false, "http"},
		{"localhost/proj", false, "http"},
		{"registry.example:5000/proj", true, "http"},
		{"registry.example/proj", false, "https"},
	} {
		p := &pipeline{cfg: config.Config{Repository: tc.repo}, insecureRegistry: tc.insecure}
		d, err := v1.NewHash(digest)
		require.NoError(t, err)
		ref, err := p.collectionImage(&base{image: build.Result{Digest: d}})
		require.NoError(t, err)
		assert.Equal(t, tc.repo+"@"+digest, ref.String())
		assert.Equal(t, tc.scheme, ref.Context().Scheme(), "%s, insecure %v", tc.repo, tc.insecure)
	}
}
