package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

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

// A run whose image already carries the collection of the same key starts
// no discovery pod and finds the same tests; a run with another selection
// starts one.
func TestDiscoverFromTheCollectionCache(t *testing.T) {
	ctx := context.Background()
	repo, digest, _ := testImage(t)
	ids := []string{"tests/test_a.py::test_one", "tests/test_a.py::test_two"}
	logs, _, created := coverageCluster(t, 0, sampleCollection(t, ids...))
	newRun := func(runID string, selection ...string) (*pipeline, *base) {
		p := &pipeline{
			cfg:     config.Config{Repository: repo, Selection: selection, ProjectDir: t.TempDir()},
			log:     slog.New(slog.DiscardHandler),
			cluster: &k8s.Cluster{Client: logs, Namespace: "ns"},
			runID:   runID,
			stderr:  io.Discard,

			collections: collectcache.New(collectcache.Options{}),
		}
		return p, &base{ref: "python:3", image: build.Result{Image: "pull.example/proj@" + digest.String(), Digest: digest}}
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
}

// A collection that failed is not kept: the next run discovers again.
func TestFailedDiscoveryIsNotCached(t *testing.T) {
	ctx := context.Background()
	repo, digest, _ := testImage(t)
	logs, _, created := coverageCluster(t, 2, []byte("ERROR tests/test_a.py\n"))
	for i := range 2 {
		p := &pipeline{
			cfg:     config.Config{Repository: repo, ProjectDir: t.TempDir()},
			log:     slog.New(slog.DiscardHandler),
			cluster: &k8s.Cluster{Client: logs, Namespace: "ns"},
			runID:   fmt.Sprintf("r%d", i),
			stderr:  io.Discard,

			collections: collectcache.New(collectcache.Options{}),
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
