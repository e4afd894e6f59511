package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// TestAttemptKeepsPodUID: each attempt's record keeps its pod's UID, and
// the report operator mode loads carries it, so API coverage tells the
// run's pods from others of the same name.
func TestAttemptKeepsPodUID(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) { r.Spec.APICoverage = "local" }))
	started(t, e, "r1")
	name := podName("r1", sampleIDs[0], 1)
	pod := &corev1.Pod{}
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pod))
	pod.UID = "uid-of-the-pod"
	require.NoError(t, e.client.Update(context.Background(), pod))

	e.finish(name, 0, false)
	e.reconcileCase(TestCaseName("r1", testid.CaseID(sampleIDs[0])))
	tc := e.testCase("r1", sampleIDs[0])
	require.Len(t, tc.Status.History, 1)
	assert.Equal(t, name, tc.Status.History[0].Pod)
	assert.Equal(t, "uid-of-the-pod", tc.Status.History[0].PodUID)

	e.reconcileRun("r1")
	rep, err := LoadReport(context.Background(), e.client, e.run("r1"))
	require.NoError(t, err)
	require.Len(t, rep.Cases, 1)
	require.Len(t, rep.Cases[0].Attempts, 1)
	assert.Equal(t, "uid-of-the-pod", rep.Cases[0].Attempts[0].PodUID)
}
