package app

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
)

// In operator mode the CLI looks up the collection cache: on a miss the
// run names a collection ConfigMap and the operator discovers, and the
// log the operator left there is kept in the cache after the run; the
// next run of the same image and key hands that log to the operator in
// the ConfigMap, which the run then owns. The key is direct mode's, so a
// collection either mode stored serves the other.
func TestOperatorRunHandsTheCachedCollection(t *testing.T) {
	ctx := context.Background()
	repo, digest, _ := testImage(t)
	ids := []string{"tests/test_a.py::test_one", "tests/test_a.py::test_two"}
	scheme, err := operator.Scheme()
	require.NoError(t, err)
	c := crfake.NewClientBuilder().WithScheme(scheme).Build()
	here := machine(t)
	newRun := func(environ []string, name string) (*pipeline, *base, *v1alpha1.TestRun) {
		p := &pipeline{
			cfg:         config.Config{Repository: repo, Selection: []string{"-k", "a"}, ProjectDir: t.TempDir()},
			log:         slog.New(slog.DiscardHandler),
			cluster:     &k8s.Cluster{Namespace: "ns"},
			runID:       name,
			stderr:      io.Discard,
			collections: newCollectionCache(environ, slog.New(slog.DiscardHandler)),
		}
		run := &v1alpha1.TestRun{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
			Spec: v1alpha1.TestRunSpec{Image: "pull.example/proj@" + digest.String(), Selection: p.cfg.Selection}}
		return p, &base{ref: "python:3", image: build.Result{Image: run.Spec.Image, Digest: digest}}, run
	}
	getCM := func(name string) (*corev1.ConfigMap, error) {
		cm := &corev1.ConfigMap{}
		return cm, c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: name}, cm)
	}

	p, b, run := newRun(here, "r1")
	assert.Equal(t, p.collectionKey(b, discover.Command(layout.BinaryPath, p.cfg.Selection)), p.collectionKey(b, operator.DiscoveryCommand(run)),
		"direct mode's key")
	h := p.handCollections(ctx, c, run, []*base{b})
	assert.Equal(t, "r1-discovery", run.Spec.CollectionConfigMap)
	_, err = getCM("r1-discovery")
	assert.True(t, apierrors.IsNotFound(err), "a miss hands nothing: the operator discovers")
	// The operator discovers and leaves the log.
	left, err := operator.DiscoveryLogConfigMap("ns", "r1-discovery", sampleCollection(t, ids...))
	require.NoError(t, err)
	require.NoError(t, c.Create(ctx, left))
	h.keep(ctx, p, c, run, []*base{b})

	p, b, run = newRun(here, "r2")
	h = p.handCollections(ctx, c, run, []*base{b})
	cm, err := getCM("r2-discovery")
	require.NoError(t, err, "a hit hands the collection over")
	log, ok, err := operator.DiscoveryLogOf(cm)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, sampleCollection(t, ids...), log)
	h.own(ctx, p, c, run, true)
	cm, err = getCM("r2-discovery")
	require.NoError(t, err)
	require.NotNil(t, metav1.GetControllerOf(cm))
	assert.Equal(t, run.UID, metav1.GetControllerOf(cm).UID, "the run owns it")

	// A run that was not created leaves no ConfigMap behind.
	p, b, run = newRun(here, "r3")
	h = p.handCollections(ctx, c, run, []*base{b})
	_, err = getCM("r3-discovery")
	require.NoError(t, err)
	h.own(ctx, p, c, run, false)
	_, err = getCM("r3-discovery")
	assert.True(t, apierrors.IsNotFound(err))

	// Another machine has no record of the collection: a miss.
	p, b, run = newRun(machine(t), "r4")
	p.handCollections(ctx, c, run, []*base{b})
	_, err = getCM("r4-discovery")
	assert.True(t, apierrors.IsNotFound(err))

	// Without a cache on this machine the run names no ConfigMap.
	p, b, run = newRun(nil, "r5")
	assert.Nil(t, p.handCollections(ctx, c, run, []*base{b}))
	assert.Empty(t, run.Spec.CollectionConfigMap)
}
