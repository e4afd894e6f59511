package operator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

var sampleIDs = []string{"tests/test_a.py::test_one", "tests/test_a.py::test_two", "tests/test_b.py::test_three"}

func withTests(ids ...string) func(*v1alpha1.TestRun) {
	return func(r *v1alpha1.TestRun) { r.Spec.Tests = ids }
}

func TestRunCreatesTestCasesThenPodsUpToParallelism(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(append(sampleIDs, sampleIDs[0])...)))

	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunRunning, run.Status.Phase)
	assert.Equal(t, int32(3), run.Status.Total, "a repeated id is one test")
	assert.True(t, meta.IsStatusConditionTrue(run.Status.Conditions, v1alpha1.ConditionDiscovered))
	require.NotNil(t, run.Status.StartTime)

	cases := e.testCases("r1")
	require.Len(t, cases, 3)
	for _, tc := range cases {
		ref := metav1.GetControllerOf(&tc)
		require.NotNil(t, ref, "testcase %s", tc.Name)
		assert.Equal(t, run.UID, ref.UID)
		assert.Equal(t, "TestRun", ref.Kind)
		assert.Equal(t, testid.CaseID(tc.Spec.TestID), tc.Labels[k8s.LabelCase])
		assert.Equal(t, int32(1), tc.Spec.MaxAttempts)
	}
	assert.Equal(t, int32(2), e.testCase("r1", sampleIDs[2]).Spec.Index, "discovery order is kept")

	e.reconcileRun("r1")
	pods := e.pods()
	require.Len(t, pods, 2, "parallelism 2")
	for _, p := range pods {
		ref := metav1.GetControllerOf(&p)
		require.NotNil(t, ref)
		assert.Equal(t, "TestCase", ref.Kind)
		assert.Equal(t, "r1", p.Labels[k8s.LabelRun])
		assert.Equal(t, "1", p.Labels[k8s.LabelAttempt])
		assert.Equal(t, "registry.test/sample@sha256:0123", p.Spec.Containers[0].Image)
	}
	assert.Equal(t, k8s.PodName("r1", testid.CaseID(sampleIDs[0]), 1), pods[0].Name)

	e.reconcileRun("r1")
	assert.Len(t, e.pods(), 2, "a second pass creates nothing more")
	assert.Equal(t, int32(2), e.run("r1").Status.Active)
}

func TestRunDoesNotRecreateAnAttemptTheCacheDoesNotShow(t *testing.T) {
	// The cache (Client) shows the test without attempts and without pods;
	// the API server (APIReader) has attempt 1 recorded: the pod ran, was
	// collected and deleted. Creating it again would run it twice.
	run := testRun("r1", withTests(sampleIDs[0]))
	run.Status = v1alpha1.TestRunStatus{Phase: v1alpha1.RunRunning, Total: 1, Conditions: []metav1.Condition{{
		Type: v1alpha1.ConditionDiscovered, Status: metav1.ConditionTrue, Reason: "TestCasesCreated", LastTransitionTime: metav1.NewTime(t0),
	}}}
	tc := &v1alpha1.TestCase{
		ObjectMeta: metav1.ObjectMeta{Name: TestCaseName("r1", testid.CaseID(sampleIDs[0])), Namespace: ns, UID: "uid-tc",
			Labels:          map[string]string{k8s.LabelRun: "r1"},
			OwnerReferences: []metav1.OwnerReference{controllerRef(run, v1alpha1.GroupVersion.WithKind("TestRun"))}},
		Spec: v1alpha1.TestCaseSpec{TestRun: "r1", TestID: sampleIDs[0], MaxAttempts: 2},
	}
	e := newEnv(t, run, tc)
	fresh := tc.DeepCopy()
	fresh.Status.History = []v1alpha1.Attempt{{Number: 1, Pod: "gone", Status: "failed", ExitCode: 1}}
	e.runs.APIReader = staticReader{Reader: e.client, tc: fresh}

	res := e.reconcileRun("r1")
	assert.Empty(t, e.pods(), "attempt 1 is recorded; it must not run again")
	assert.Positive(t, res.RequeueAfter, "it looks again once the cache caught up")
}

// staticReader serves one TestCase as the API server has it.
type staticReader struct {
	client.Reader
	tc *v1alpha1.TestCase
}

func (s staticReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if tc, ok := obj.(*v1alpha1.TestCase); ok && key.Name == s.tc.Name {
		s.tc.DeepCopyInto(tc)
		return nil
	}
	return s.Reader.Get(ctx, key, obj, opts...)
}

func TestRunDiscoversTests(t *testing.T) {
	e := newEnv(t, testRun("r1", func(r *v1alpha1.TestRun) { r.Spec.Selection = []string{"-k", "one"} }))

	e.reconcileRun("r1")
	assert.Equal(t, v1alpha1.RunDiscovering, e.run("r1").Status.Phase)
	pod := &corev1.Pod{}
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: DiscoveryPodName("r1")}, pod))
	assert.Equal(t, discover.Command(layout.BinaryPath, []string{"-k", "one"}), pod.Spec.Containers[0].Command, "the binary's collect role runs pytest")
	assert.Equal(t, []string{"-k", "one"}, pod.Spec.Containers[0].Command[len(pod.Spec.Containers[0].Command)-2:])
	assert.Equal(t, "TestRun", metav1.GetControllerOf(pod).Kind)

	e.reconcileRun("r1")
	assert.Empty(t, e.testCases("r1"), "discovery has not finished")

	e.discovery = discoveryLog(t, "tests/test_a.py::test_one\ntests/test_b.py::test_one\n\n2 tests collected in 0.01s\n", noSkips)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, int32(2), run.Status.Total)
	assert.Zero(t, run.Status.CollectionSkipped)
	assert.Len(t, e.testCases("r1"), 2)
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: DiscoveryPodName("r1")}, pod),
		"the discovery pod stays until the status records the tests")

	e.reconcileRun("r1")
	err := e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: DiscoveryPodName("r1")}, pod)
	assert.True(t, apierrors.IsNotFound(err), "the discovery pod goes once the tests are recorded: %v", err)
	assert.Len(t, e.pods(), 2, "and the test pods start")
	assert.Contains(t, e.events(), "Normal Discovered 2 tests")
}

func TestRunDiscoveryErrorEndsTheRun(t *testing.T) {
	e := newEnv(t, testRun("r1"))
	e.reconcileRun("r1")
	e.discovery = "\n==== ERRORS ====\n____ ERROR collecting tests/test_x.py ____\nE   ModuleNotFoundError: No module named 'nope'\n" +
		"=== short test summary info ===\nERROR tests/test_x.py\n!!! Interrupted: 1 error during collection !!!\n1 error in 0.05s\n"
	e.finish(DiscoveryPodName("r1"), 2, false)
	e.reconcileRun("r1")

	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, "nope")
	assert.NotNil(t, run.Status.CompletionTime)
	assert.Empty(t, e.testCases("r1"))

	e.reconcileRun("r1")
	assert.Empty(t, e.pods(), "a finished run's discovery pod goes")
}

func TestRunWithInvalidPodTemplateFails(t *testing.T) {
	for name, tt := range map[string]struct{ template, want string }{
		"not a pod spec": {`{"spec":{"containers":"x"}}`, "pod template"},
		"unknown field":  {`{"nodeSelectr":{"a":"b"}}`, "nodeSelectr"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, testRun("r1", withTests(sampleIDs...), func(r *v1alpha1.TestRun) {
				r.Spec.PodTemplate = &runtime.RawExtension{Raw: []byte(tt.template)}
			}))
			e.reconcileRun("r1")
			run := e.run("r1")
			assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
			assert.Contains(t, run.Status.Message, tt.want)
			assert.Empty(t, e.testCases("r1"))
		})
	}
}

func TestRunMergesThePodTemplate(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) {
		r.Spec.PodTemplate = &runtime.RawExtension{Raw: []byte(`{"spec":{"nodeSelector":{"pool":"tests"},"containers":[{"name":"test","env":[{"name":"A","value":"1"}]}]}}`)}
	}))
	started(t, e, "r1")
	p := e.pods()[0]
	assert.Equal(t, map[string]string{"pool": "tests"}, p.Spec.NodeSelector)
	assert.Contains(t, p.Spec.Containers[0].Env, corev1.EnvVar{Name: "A", Value: "1"})
}

func TestRunPodsRunTheTemplatesServicesAsSidecars(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) {
		r.Spec.PodTemplate = &runtime.RawExtension{Raw: []byte(`{"spec":{"containers":[{"name":"web","image":"x","readinessProbe":{"tcpSocket":{"port":8000}}}]}}`)}
	}))
	started(t, e, "r1")
	p := e.pods()[0]
	require.Len(t, p.Spec.Containers, 1)
	assert.Equal(t, k8s.TestContainer, p.Spec.Containers[0].Name)
	require.Len(t, p.Spec.InitContainers, 2)
	web := p.Spec.InitContainers[1]
	assert.Equal(t, "web", web.Name)
	assert.Equal(t, ptr.To(corev1.ContainerRestartPolicyAlways), web.RestartPolicy)
	require.NotNil(t, web.StartupProbe)
	assert.Equal(t, web.ReadinessProbe.TCPSocket, web.StartupProbe.TCPSocket)
}

func TestRunExpiresAfterTTLAndEndsLingers(t *testing.T) {
	run := testRun("r1", func(r *v1alpha1.TestRun) {
		r.Spec.TTLSecondsAfterFinished = ptr.To(int32(60))
		r.Spec.LingerSecondsOnFailure = 600
		r.Status.Phase = v1alpha1.RunFailed
		r.Status.CompletionTime = &metav1.Time{Time: t0}
	})
	lingering := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ktr-r1-abc-1", Namespace: ns,
			Labels:      map[string]string{k8s.LabelRun: "r1", k8s.LabelRole: "test", k8s.LabelManagedBy: k8s.ManagedBy},
			Annotations: map[string]string{AnnotationLinger: "600"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	e := newEnv(t, run, lingering)

	e.now = t0.Add(30 * time.Second)
	res := e.reconcileRun("r1")
	assert.Equal(t, 30*time.Second, res.RequeueAfter, "it wakes when the TTL passes")
	assert.Equal(t, "600", e.pods()[0].Annotations[AnnotationLinger])

	e.now = t0.Add(61 * time.Second)
	e.reconcileRun("r1")
	assert.Equal(t, "0", e.pods()[0].Annotations[AnnotationLinger], "the linger ends with the TTL")
	err := e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "r1"}, &v1alpha1.TestRun{})
	assert.True(t, apierrors.IsNotFound(err), "the run is deleted: %v", err)
}

// Each pass of a run reads all its TestCases; it reads them as the cache
// holds them, without a copy each, and changes none (env's cleanup checks
// every one so listed, in every test here).
func TestRunReadsItsTestCasesWithoutCopies(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...)))
	started(t, e, "r1")
	e.mu.Lock()
	defer e.mu.Unlock()
	assert.NotEmpty(t, e.shared, "the run's TestCases were copied on each read")
}
