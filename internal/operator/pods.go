package operator

import (
	"cmp"
	"path"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/defaults"
	"github.com/k8s-testrun/k8s-testrun/internal/drive"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// Defaults for fields a TestRun may leave unset (the CRD defaults them; an
// object created without the CRD's defaulting, as in tests, still works),
// declared once in package defaults.
const (
	DefaultParallelism    = defaults.Parallelism
	DefaultTimeout        = defaults.Timeout
	DefaultPendingTimeout = defaults.PendingTimeout
	DefaultInfraRetries   = defaults.InfraRetries
	DefaultFlakyRetries   = defaults.FlakyRetries
)

// lingerDir is where the collector of a lingering pod reads
// AnnotationLinger through the downward API.
const (
	lingerVolume = "linger"
	lingerDir    = "/etc/k8s-testrun"
	lingerFile   = "linger"
)

// settings are a run's effective options.
type settings struct {
	parallelism    int
	maxAttempts    int
	infraRetries   int
	timeout        time.Duration
	pendingTimeout time.Duration
	linger         time.Duration
	native         bool
	// flakyAttempts is how often a test of the flaky lane runs at most.
	flakyAttempts int
	// slowTimeout bounds each attempt of a test of the slow lane.
	slowTimeout time.Duration
	// lanes map each lane policy to its markers.
	lanes map[string][]string
	// grouping is what one pod runs: a test, class, file or shard.
	grouping plan.Grouping
	// nodeLoss ends the pods on lost nodes; nil without a node watch.
	nodeLoss *k8s.NodeLoss
}

// settingsOf resolves a run's options; serverNative says whether the API
// server runs native sidecars, for Sidecar auto; nodes follows the nodes'
// readiness (nil when the operator may not watch them).
func settingsOf(run *v1alpha1.TestRun, serverNative bool, nodes *k8s.NodeWatcher) settings {
	s := settings{
		parallelism:    int(run.Spec.Parallelism),
		maxAttempts:    int(run.Spec.Retries) + 1,
		infraRetries:   DefaultInfraRetries,
		timeout:        DefaultTimeout,
		pendingTimeout: DefaultPendingTimeout,
		linger:         time.Duration(run.Spec.LingerSecondsOnFailure) * time.Second,
	}
	flaky := DefaultFlakyRetries
	if run.Spec.FlakyRetries != nil {
		flaky = max(int(*run.Spec.FlakyRetries), 0)
	}
	s.flakyAttempts = max(s.maxAttempts, flaky+1)
	s.grouping = plan.Grouping{PodPer: run.Spec.PodPer, Shards: int(run.Spec.Shards), Slots: int(run.Spec.Parallelism)}
	s.lanes = plan.DefaultLaneMarkers()
	for lane, markers := range run.Spec.Lanes {
		s.lanes[lane] = markers
	}
	if run.Spec.InfraRetries != nil {
		s.infraRetries = max(int(*run.Spec.InfraRetries), 0)
	}
	if s.parallelism < 1 {
		s.parallelism = DefaultParallelism
	}
	if run.Spec.Timeout != nil {
		s.timeout = run.Spec.Timeout.Duration
	}
	s.slowTimeout = 3 * s.timeout
	if run.Spec.SlowTimeout != nil && run.Spec.SlowTimeout.Duration > 0 {
		s.slowTimeout = run.Spec.SlowTimeout.Duration
	}
	s.nodeLoss = nodeLossOf(run, nodes)
	if run.Spec.PendingTimeout != nil && run.Spec.PendingTimeout.Duration > 0 {
		s.pendingTimeout = run.Spec.PendingTimeout.Duration
	}
	switch run.Spec.Sidecar {
	case v1alpha1.SidecarNative:
		s.native = true
	case v1alpha1.SidecarContainer:
	default:
		s.native = serverNative
	}
	// A native sidecar is stopped as soon as the test exits; only a regular
	// container can hold the pod for a linger.
	if s.linger > 0 {
		s.native = false
	}
	return s
}

// observeOptions says how the pods of a run are judged. An attempt ends at
// its test's exit when the collector lingers, and when it is a native
// sidecar, which the kubelet stops at the test's exit anyway: as in
// direct mode, the pod's slot is free without waiting for that.
func (s settings) observeOptions() k8s.ObserveOptions {
	return k8s.ObserveOptions{PendingTimeout: s.pendingTimeout, TestExitEnds: s.linger > 0 || s.native, NodeLoss: s.nodeLoss}
}

// lane is the lane of a test with the given markers.
func (s settings) lane(markers []string) string { return plan.LaneOf(markers, s.lanes) }

// maxAttemptsOf is how often a test of lane runs at most.
func (s settings) maxAttemptsOf(lane string) int {
	if lane == plan.LaneFlaky {
		return s.flakyAttempts
	}
	return s.maxAttempts
}

// timeoutOf bounds each attempt of a test of lane.
func (s settings) timeoutOf(lane string) time.Duration {
	if lane == plan.LaneSlow {
		return s.slowTimeout
	}
	return s.timeout
}

// caseTimeout bounds each attempt of tc: its own timeout, else the run's.
func (s settings) caseTimeout(tc *v1alpha1.TestCase) time.Duration {
	if tc.Spec.Timeout != nil {
		return tc.Spec.Timeout.Duration
	}
	return s.timeout
}

// podTemplate reads the run's pod template, which the API server keeps as
// it was given.
func podTemplate(run *v1alpha1.TestRun) (*corev1.PodTemplateSpec, error) {
	if run.Spec.PodTemplate == nil {
		return nil, nil
	}
	return k8s.ParseTemplate(run.Spec.PodTemplate.Raw)
}

// testPod builds the pod of one attempt of tc, controlled by tc.
func testPod(run *v1alpha1.TestRun, tc *v1alpha1.TestCase, attempt int, s settings) (*corev1.Pod, error) {
	tmpl, err := podTemplate(run)
	if err != nil {
		return nil, err
	}
	pod, err := k8s.TestPod(k8s.TestPodOptions{
		Namespace:     run.Namespace,
		RunID:         run.Name,
		Case:          CaseOf(tc),
		Attempt:       attempt,
		Image:         cmp.Or(tc.Spec.Image, run.Spec.Image),
		Timeout:       s.caseTimeout(tc),
		NativeSidecar: s.native,
		ResultLimit:   int(run.Spec.ResultLimit),
		Template:      tmpl,

		ServiceTimeout: s.pendingTimeout,
	})
	if err != nil {
		return nil, err
	}
	if s.linger > 0 {
		addLinger(pod, s)
	}
	pod.OwnerReferences = []metav1.OwnerReference{controllerRef(tc, v1alpha1.GroupVersion.WithKind("TestCase"))}
	return pod, nil
}

// addLinger lets the collector hold the pod after the test: it reads how
// long from AnnotationLinger through a downward API file, which the
// operator sets to 0 to end the linger early. The pod's deadline grows by
// the linger, or the kubelet would end a linger that outlives it; the
// TestCase reconciler enforces the test's own timeout instead.
func addLinger(pod *corev1.Pod, s settings) {
	secs := int64(s.linger / time.Second)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[AnnotationLinger] = strconv.FormatInt(secs, 10)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
		Name: lingerVolume,
		VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{
				Path:     lingerFile,
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotationLinger + "']"},
			}},
		}},
	})
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if c.Name != k8s.CollectorContainer {
			continue
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: lingerVolume, MountPath: lingerDir, ReadOnly: true})
		c.Command = append(c.Command, "--linger-file", path.Join(lingerDir, lingerFile))
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		pod.Spec.ActiveDeadlineSeconds = ptr.To(*d + secs + int64(k8s.DefaultGracePeriod/time.Second))
	}
}

// lingering reports a pod whose collector may still be holding it.
func lingering(p *corev1.Pod) bool {
	v, ok := p.Annotations[AnnotationLinger]
	return ok && v != "0" && p.DeletionTimestamp == nil &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// expectations remember, run by run, the pods a run created that its cache
// does not show yet, so a reconcile in between neither exceeds the
// parallelism nor asks for them again: drive.Pending, as direct mode keeps
// them.
type expectations struct {
	mu   sync.Mutex
	runs map[types.NamespacedName]*drive.Pending
}

func (e *expectations) add(run types.NamespacedName, p plan.Pod, now time.Time) {
	e.mu.Lock()
	if e.runs == nil {
		e.runs = map[types.NamespacedName]*drive.Pending{}
	}
	c := e.runs[run]
	if c == nil {
		c = &drive.Pending{}
		e.runs[run] = c
	}
	e.mu.Unlock()
	c.Add(p, now)
}

// merge drops the expectations obs fulfils or that expired, and adds the
// rest to obs.
func (e *expectations) merge(run types.NamespacedName, obs []plan.Pod, now time.Time) []plan.Pod {
	e.mu.Lock()
	c := e.runs[run]
	e.mu.Unlock()
	if c == nil {
		return obs
	}
	seen := make(map[string]bool, len(obs))
	for _, o := range obs {
		seen[o.Name] = true
	}
	return c.Merge(obs, func(name string) bool { return seen[name] }, now)
}

func (e *expectations) forget(run types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.runs, run)
}
