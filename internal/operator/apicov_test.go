package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// TestAttemptKeepsPodUID: each attempt's record keeps its pod's UID, and
// the report operator mode loads carries it, so API coverage tells the
// run's pods from others of the same name.
func TestAttemptKeepsPodUID(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), withAPICoverage("local", "tests")))
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

// withAPICoverage sets spec.apiCoverage and a pod template that names the
// service account sa ("" names none).
func withAPICoverage(source, sa string) func(*v1alpha1.TestRun) {
	return func(r *v1alpha1.TestRun) {
		r.Spec.APICoverage = source
		tmpl := `{"spec": {"nodeSelector": {"a": "b"}}}`
		if sa != "" {
			tmpl = `{"spec": {"serviceAccountName": "` + sa + `"}}`
		}
		r.Spec.PodTemplate = &runtime.RawExtension{Raw: []byte(tmpl)}
	}
}

// TestAPICoverageNeedsAServiceAccount: a TestRun that asks for API
// coverage with pods that run as no ServiceAccount ends as an error that
// says so, before any pod; one whose pods do runs.
func TestAPICoverageNeedsAServiceAccount(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), withAPICoverage("local", "")),
		testRun("r2", withTests(sampleIDs[0]), withAPICoverage("kind:ci", "tests")))
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, "spec.apiCoverage needs test pods that call the API as themselves")
	assert.Empty(t, e.pods())

	started(t, e, "r2")
	assert.NotEqual(t, v1alpha1.RunError, e.run("r2").Status.Phase)
	for _, p := range e.pods() {
		assert.Equal(t, "tests", p.Spec.ServiceAccountName)
	}
}
