package operator

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func withCollection(name string) func(*v1alpha1.TestRun) {
	return func(r *v1alpha1.TestRun) {
		r.Spec.CollectionConfigMap = name
		r.Spec.Parallelism = 4
		r.Spec.Lanes = map[string]v1alpha1.LaneMarkers{plan.LaneSerial: {"db_migration"}}
	}
}

// A run handed its collection in a ConfigMap starts no discovery pod: the
// TestCases come from the log it holds, markers and lanes included.
func TestHandedCollectionStartsNoDiscoveryPod(t *testing.T) {
	cm, err := DiscoveryLogConfigMap(ns, "r1-discovery", []byte(lanesDiscovery(t)))
	require.NoError(t, err)
	e := newEnv(t, cm, testRun("r1", withCollection("r1-discovery")))
	e.reconcileRun("r1")
	assert.Zero(t, e.created[DiscoveryPodName("r1")], "no discovery pod")
	require.Len(t, e.testCases("r1"), 5)
	assert.Equal(t, plan.LaneSerial, e.testCase("r1", laneSerial).Spec.Lane)
	assert.Equal(t, plan.LaneDisruptive, e.testCase("r1", laneDisrupt).Spec.Lane)
	e.reconcileRun("r1")
	assert.Len(t, e.livePods(), 3, "the parallel lanes start")
	for _, p := range e.pods() {
		assert.NotEqual(t, "discover", p.Labels["k8s-testrun.io/role"])
	}
}

// Without a collection handed, the operator discovers as ever and keeps
// the discovery's log in the named ConfigMap, owned by the run, for the
// CLI's cache.
func TestDiscoveryLogKeptForTheCache(t *testing.T) {
	e := newEnv(t, testRun("r1", withCollection("r1-discovery")))
	e.reconcileRun("r1")
	assert.Equal(t, 1, e.created[DiscoveryPodName("r1")], "a miss discovers")
	e.discovery = lanesDiscovery(t)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")
	require.Len(t, e.testCases("r1"), 5)

	cm := &corev1.ConfigMap{}
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "r1-discovery"}, cm))
	log, ok, err := DiscoveryLogOf(cm)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, e.discovery, string(log))
	require.NotNil(t, metav1.GetControllerOf(cm))
	assert.Equal(t, e.run("r1").UID, metav1.GetControllerOf(cm).UID, "the run owns it")
}

// A run naming no collection ConfigMap writes none.
func TestNoCollectionConfigMapNoneWritten(t *testing.T) {
	e := newEnv(t, testRun("r1"))
	e.reconcileRun("r1")
	e.discovery = lanesDiscovery(t)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")
	require.Len(t, e.testCases("r1"), 5)
	list := &corev1.ConfigMapList{}
	require.NoError(t, e.client.List(context.Background(), list))
	for _, cm := range list.Items {
		_, has := cm.BinaryData[DiscoveryLogKey]
		assert.False(t, has, cm.Name)
	}
}

// What does not parse is no collection: an event says so and the
// discovery pod runs.
func TestHandedCollectionThatDoesNotParseIsIgnored(t *testing.T) {
	for name, data := range map[string][]byte{"not gzip": []byte("garbage"), "no tests": nil} {
		t.Run(name, func(t *testing.T) {
			cm, err := DiscoveryLogConfigMap(ns, "r1-discovery", []byte("no tests ran in 0.01s\n"))
			require.NoError(t, err)
			if data != nil {
				cm.BinaryData[DiscoveryLogKey] = data
			}
			e := newEnv(t, cm, testRun("r1", withCollection("r1-discovery")))
			e.reconcileRun("r1")
			assert.Equal(t, 1, e.created[DiscoveryPodName("r1")], "discovers instead")
			var ignored string
			for _, ev := range e.events() {
				if strings.Contains(ev, "CollectionIgnored") {
					ignored = ev
				}
			}
			assert.Contains(t, ignored, "r1-discovery")
		})
	}
}

// A log whose gzip does not fit in a ConfigMap is refused by name, so the
// CLI hands nothing and the operator keeps nothing: the run discovers.
func TestDiscoveryLogTooLargeForAConfigMap(t *testing.T) {
	big := make([]byte, maxStored+1)
	_, _ = rand.Read(big)
	_, err := DiscoveryLogConfigMap(ns, "x", big)
	var tooLarge *TooLargeError
	require.ErrorAs(t, err, &tooLarge)
	assert.Contains(t, err.Error(), "the discovery log")
}
