package k8s

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// serviceTemplate has a service among the containers (with a readiness
// probe only), one among the init containers (with its own startup probe),
// a regular init container, host aliases and a shared workspace.
const serviceTemplate = `
spec:
  hostAliases: [{ip: 127.0.0.1, hostnames: [web, cache]}]
  volumes: [{name: workspace, emptyDir: {}}]
  initContainers:
    - name: seed
      image: busybox
      command: [sh, -c, "echo hi > /ws/index.html"]
      volumeMounts: [{name: workspace, mountPath: /ws}]
    - name: cache
      image: redis
      restartPolicy: Always
      startupProbe: {tcpSocket: {port: 6379}, periodSeconds: 2, failureThreshold: 5}
  containers:
    - name: web
      image: python:3
      command: [python3, -m, http.server, "8000"]
      readinessProbe: {httpGet: {path: /, port: 8000}, initialDelaySeconds: 1, timeoutSeconds: 2, periodSeconds: 5}
      resources: {limits: {memory: 64Mi, cpu: 100m}}
      volumeMounts: [{name: workspace, mountPath: /ws}]
    - name: test
      resources: {limits: {memory: 256Mi}}
      volumeMounts: [{name: workspace, mountPath: /ws}]
`

func names(cs []corev1.Container) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func byName(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "no container", "%s in %v", name, names(cs))
	return corev1.Container{}
}

func TestServicesAsNativeSidecars(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(serviceTemplate))
	require.NoError(t, err)
	plain, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", NativeSidecar: true, ResultLimit: 4096})
	require.NoError(t, err)
	for _, o := range []TestPodOptions{
		{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", NativeSidecar: true, ResultLimit: 4096, Template: tmpl},
		{Namespace: "ns", RunID: "r", Unit: "u", Cases: []plan.Case{sampleCase}, Attempt: 1, Image: "img", NativeSidecar: true, ResultLimit: 4096, Template: tmpl},
	} {
		pod, err := TestPod(o)
		require.NoError(t, err, "a template container other than test is accepted")

		assert.Equal(t, []string{TestContainer}, names(pod.Spec.Containers), "only the test is a main container")
		assert.Equal(t, []string{CollectorContainer, "seed", "cache", "web"}, names(pod.Spec.InitContainers),
			"services start before the test, after the collector and the template's own init containers")

		seed := byName(t, pod.Spec.InitContainers, "seed")
		assert.Nil(t, seed.RestartPolicy, "a regular init container stays one")
		assert.Nil(t, seed.StartupProbe)

		web := byName(t, pod.Spec.InitContainers, "web")
		require.NotNil(t, web.RestartPolicy)
		assert.Equal(t, corev1.ContainerRestartPolicyAlways, *web.RestartPolicy)
		require.NotNil(t, web.StartupProbe, "a readiness probe alone would not gate the test's start")
		assert.Equal(t, web.ReadinessProbe.HTTPGet, web.StartupProbe.HTTPGet)
		assert.Equal(t, intstr.FromInt32(8000), web.StartupProbe.HTTPGet.Port)
		assert.EqualValues(t, 1, web.StartupProbe.InitialDelaySeconds)
		assert.EqualValues(t, 2, web.StartupProbe.TimeoutSeconds)
		assert.EqualValues(t, 1, web.StartupProbe.PeriodSeconds)
		assert.EqualValues(t, derivedProbeFailures, web.StartupProbe.FailureThreshold)
		assert.EqualValues(t, 5, web.ReadinessProbe.PeriodSeconds, "the readiness probe is kept as given")
		assert.Equal(t, resource.MustParse("64Mi"), web.Resources.Limits[corev1.ResourceMemory])
		assert.Equal(t, []string{"python3", "-m", "http.server", "8000"}, web.Command)

		cache := byName(t, pod.Spec.InitContainers, "cache")
		require.NotNil(t, cache.StartupProbe)
		assert.EqualValues(t, 2, cache.StartupProbe.PeriodSeconds, "a startup probe of the template is kept")
		assert.EqualValues(t, 5, cache.StartupProbe.FailureThreshold)

		assert.Equal(t, byName(t, plain.Spec.InitContainers, CollectorContainer), byName(t, pod.Spec.InitContainers, CollectorContainer),
			"the collector is unchanged")
		assert.Equal(t, []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"web", "cache"}}}, pod.Spec.HostAliases)
		test := pod.Spec.Containers[0]
		assert.Equal(t, resource.MustParse("256Mi"), test.Resources.Limits[corev1.ResourceMemory])
		assert.Contains(t, test.VolumeMounts, corev1.VolumeMount{Name: "workspace", MountPath: "/ws"})
		assert.ElementsMatch(t, []string{"results", "workspace"}, volumeNames(pod.Spec.Volumes))
	}
}

func volumeNames(vs []corev1.Volume) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func TestServicesWithoutNativeSidecars(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(serviceTemplate))
	require.NoError(t, err)
	pod, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", Template: tmpl, ServiceTimeout: 20 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, []string{"seed"}, names(pod.Spec.InitContainers), "a restartable init container would block the test forever")
	test := byName(t, pod.Spec.Containers, TestContainer)
	assert.Equal(t, []string{layout.BinaryPath, "shim",
		"--service", "cache=tcp:127.0.0.1:6379", "--service", "web=http://127.0.0.1:8000/", "--service-timeout", "20s",
		"--results"}, test.Command[:9], "the shim waits for each service's probe before pytest")
	assert.Contains(t, test.Command, sampleCase.TestID)
	assert.ElementsMatch(t, []string{TestContainer, CollectorContainer, "web", "cache"}, names(pod.Spec.Containers))
	cache := byName(t, pod.Spec.Containers, "cache")
	assert.Nil(t, cache.RestartPolicy, "a regular container takes no restartPolicy")
	assert.Nil(t, byName(t, pod.Spec.Containers, "web").StartupProbe)
}

func TestDiscoveryRunsWithoutServices(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(serviceTemplate))
	require.NoError(t, err)
	pod, err := OneOffPod(OneOffOptions{Namespace: "ns", RunID: "r", Role: "discover", Image: "img", Command: []string{"true"}, Template: tmpl})
	require.NoError(t, err)
	assert.Equal(t, []string{TestContainer}, names(pod.Spec.Containers))
	assert.Equal(t, []string{"seed"}, names(pod.Spec.InitContainers))
	assert.Len(t, pod.Spec.HostAliases, 1)
}

func TestObserveServiceNotReady(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl, err := ParseTemplate([]byte(serviceTemplate))
	require.NoError(t, err)
	spec, err := TestPod(TestPodOptions{Namespace: "ns", RunID: "r", Case: sampleCase, Attempt: 1, Image: "img", NativeSidecar: true, Template: tmpl})
	require.NoError(t, err)
	// pod is the API's view while web's startup probe keeps failing.
	pod := func(webStarted bool, test corev1.ContainerState) *corev1.Pod {
		p := spec.DeepCopy()
		p.CreationTimestamp = metav1.NewTime(created)
		p.Status = corev1.PodStatus{
			Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{
				{Name: CollectorContainer, Started: ptr.To(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{Name: "seed", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				{Name: "cache", Started: ptr.To(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{Name: "web", Started: ptr.To(webStarted), RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: TestContainer, State: test}},
		}
		return p
	}
	initializing := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
	opts := ObserveOptions{PendingTimeout: 20 * time.Second}

	got := Observe(pod(false, initializing), created.Add(21*time.Second), opts)
	require.True(t, got.Done)
	assert.Equal(t, plan.Error, got.Outcome.Status)
	assert.EqualValues(t, -1, got.Outcome.ExitCode)
	assert.Equal(t, ReasonServiceNotReady, got.Outcome.Reason)
	assert.Equal(t, `service "web" not ready: its startup probe has not passed, 2 restarts within the pending timeout of 20s`, got.Outcome.Message)

	assert.False(t, Observe(pod(false, initializing), created.Add(19*time.Second), opts).Done, "within the pending timeout it waits")
	assert.False(t, Observe(pod(true, initializing), created.Add(time.Hour), opts).Done, "every service started: the test is about to start")
	running := pod(false, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})
	running.Status.Phase = corev1.PodRunning
	assert.False(t, Observe(running, created.Add(time.Hour), opts).Done, "a test that runs is not held up by a service")

	crashing := pod(false, initializing)
	crashing.Status.InitContainerStatuses[3].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s"}}
	got = Observe(crashing, created.Add(21*time.Second), opts)
	assert.Equal(t, ReasonServiceNotReady, got.Outcome.Reason)
	assert.Contains(t, got.Outcome.Message, `service "web" not ready: CrashLoopBackOff back-off 10s`)

	pulling := pod(false, initializing)
	pulling.Status.InitContainerStatuses[3] = corev1.ContainerStatus{Name: "web", Started: ptr.To(false),
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	assert.False(t, Observe(pulling, created.Add(time.Hour), opts).Done, "a service whose image is still pulled is not at fault")
	unseen := pod(false, initializing)
	unseen.Status.InitContainerStatuses = unseen.Status.InitContainerStatuses[:3]
	assert.False(t, Observe(unseen, created.Add(time.Hour), opts).Done, "nor one the kubelet has not reached")

	plain := pod(false, initializing)
	plain.Spec.InitContainers = plain.Spec.InitContainers[:2]
	assert.False(t, Observe(plain, created.Add(time.Hour), opts).Done, "no service, no ServiceNotReady")
}

func TestObserveFallbackServicesDoNotHoldThePod(t *testing.T) {
	pod := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
		{Name: TestContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
		{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: CollectorContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
	}}}
	assert.False(t, Observe(pod, time.Now(), ObserveOptions{}).Done, "the collector is still shipping")
	pod.Status.ContainerStatuses[2].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}
	got := Observe(pod, time.Now(), ObserveOptions{})
	require.True(t, got.Done, "test and collector are done; the service does not keep the attempt open")
	assert.Equal(t, plan.Failed, got.Outcome.Status)
}

func TestShimCheckOfAProbe(t *testing.T) {
	tests := []struct {
		name    string
		service corev1.Container
		want    string
	}{
		{"tcp", corev1.Container{ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(5432)}}}}, "tcp:127.0.0.1:5432"},
		{"named port", corev1.Container{
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http"), Path: "/healthz"}}},
		}, "http://127.0.0.1:8080/healthz"},
		{"https on a host", corev1.Container{ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Host: "web", Port: intstr.FromInt32(8443), Scheme: corev1.URISchemeHTTPS}}}}, "https://web:8443/"},
		{"grpc as a connect", corev1.Container{StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}}, "tcp:127.0.0.1:9000"},
		{"readiness before startup", corev1.Container{
			StartupProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(2)}}},
		}, "tcp:127.0.0.1:2"},
		{"exec cannot be made", corev1.Container{ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}, ""},
		{"unknown port name", corev1.Container{ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("db")}}}}, ""},
		{"no probe", corev1.Container{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := shimCheck(tt.service)
			assert.Equal(t, tt.want != "", ok)
			if ok {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestObserveServiceNotReadyFromTheShim(t *testing.T) {
	pod := func(code int32, msg string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: TestContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: msg}}},
			{Name: CollectorContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
			{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		}}}
	}
	got := Observe(pod(layout.ExitServiceNotReady, "ServiceNotReady: service \"web\" not ready within 20s: tcp 127.0.0.1:8000: connection refused\n"), time.Now(), ObserveOptions{})
	require.True(t, got.Done)
	assert.Equal(t, plan.Error, got.Outcome.Status)
	assert.Equal(t, ReasonServiceNotReady, got.Outcome.Reason)
	assert.Equal(t, `service "web" not ready within 20s: tcp 127.0.0.1:8000: connection refused`, got.Outcome.Message)

	got = Observe(pod(layout.ExitServiceNotReady, "some test's own exit\n"), time.Now(), ObserveOptions{})
	assert.NotEqual(t, ReasonServiceNotReady, got.Outcome.Reason, "the code alone is the test's own")
}
