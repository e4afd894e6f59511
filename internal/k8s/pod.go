package k8s

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/faketime"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// Labels and annotations that carry a run's state on its pods, so that any
// driver (this process, a restarted one, the operator, gc) can find them.
const (
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	ManagedBy        = "k8s-testrun"
	LabelRun         = "k8s-testrun.io/run"
	LabelCase        = "k8s-testrun.io/case"
	LabelAttempt     = "k8s-testrun.io/attempt"
	LabelRole        = "k8s-testrun.io/role"
	AnnotationTestID = "k8s-testrun.io/test-id"
	// AnnotationCases lists, comma-separated, the case IDs a pod of several
	// tests runs; such a pod's case label names its unit.
	AnnotationCases = "k8s-testrun.io/cases"

	// TestContainer and CollectorContainer name the two containers of a test
	// pod. A user's pod template merges into the test container by its name.
	TestContainer      = "test"
	CollectorContainer = "collector"

	// DefaultGracePeriod is long enough for the collector to ship its block
	// after a SIGTERM.
	DefaultGracePeriod = 10 * time.Second
)

// TestPodOptions describes one attempt of one case, or one pod of a unit of
// several.
type TestPodOptions struct {
	Namespace string
	RunID     string
	Case      plan.Case
	// Unit and Cases, for a pod of a unit (a file, a class, a shard), name
	// the unit and the cases the pod runs, in order; Case is then ignored.
	// A unit's pod streams each test's result as it finishes and keeps the
	// timeout per test.
	Unit    string
	Cases   []plan.Case
	Attempt int
	Image   string
	// PytestArgs are added after the test id (e.g. -p plugins, -o options).
	PytestArgs []string
	// Timeout becomes activeDeadlineSeconds; zero means none.
	Timeout time.Duration
	// NativeSidecar runs the collector as an init container with
	// restartPolicy Always (Kubernetes 1.29+); otherwise it is a regular
	// container that exits once it has shipped the results.
	NativeSidecar bool
	// ResultLimit caps the collector's block in bytes; zero is its default.
	ResultLimit int
	// Template is the user's pod template; it is the base our pod is merged
	// onto, so its scheduling, resources and env survive and ours win.
	Template *corev1.PodTemplateSpec
	// FaketimeLibrary is the libfaketime preloaded into the test container
	// of a case with a Faketime; empty means faketime.DebianLibrary.
	FaketimeLibrary string
	// ServiceTimeout bounds, without native sidecars, the test container's
	// wait for the template's services; zero is the shim's default.
	ServiceTimeout time.Duration
	// Coverage runs pytest under coverage.py, which writes its data files
	// in the results, where the collector ships them.
	Coverage bool
}

// PodName is the deterministic name of one attempt, so a restarted driver
// that tries to create it again gets AlreadyExists rather than a duplicate.
func PodName(runID, caseID string, attempt int) string {
	return fmt.Sprintf("ktr-%s-%s-%d", runID, caseID, attempt)
}

// RunSelector selects every pod of a run.
func RunSelector(runID string) string {
	return LabelRun + "=" + runID
}

// GroupJUnitPath is where a unit's pod has pytest write its whole JUnit
// file, outside the results: the streaming plugin ships each test's entry.
const GroupJUnitPath = "/tmp/k8s-testrun/junit.xml"

// maxGroupLimit bounds the results block of a unit's pod: its log must stay
// below the kubelet's default rotation size of 10 MiB.
const maxGroupLimit = 8 << 20

// TestPod builds the pod for one attempt.
func TestPod(o TestPodOptions) (*corev1.Pod, error) {
	if o.Unit != "" && len(o.Cases) > 0 {
		return groupPod(o)
	}
	argv := append([]string{layout.BinaryPath, "shim", "--results", layout.ResultsDir, "--"}, pytest(o)...)
	argv = append(append(argv, o.Case.TestID,
		"--junitxml="+layout.ResultsDir+"/"+layout.JUnitFile,
		"-o", "junit_family=xunit1",
		"-p", "no:cacheprovider",
		"-p", layout.MarkersPlugin,
	), o.PytestArgs...)
	pod := basePod(o, argv, o.ResultLimit)
	addFaketime(pod, o.Case.Faketime, o.FaketimeLibrary)
	pod.Name = PodName(o.RunID, o.Case.ID, o.Attempt)
	pod.Labels[LabelCase] = o.Case.ID
	pod.Annotations = map[string]string{AnnotationTestID: o.Case.TestID}
	if o.Timeout > 0 {
		pod.Spec.ActiveDeadlineSeconds = ptr.To(int64((o.Timeout + time.Second - 1) / time.Second))
	}
	return mergeServices(pod, o)
}

// groupPod builds the pod of a unit: pytest runs its tests in one session,
// with the streaming plugin, and the shim stops a test that outlives the
// timeout; the pod's deadline is the sum of its tests' timeouts.
func groupPod(o TestPodOptions) (*corev1.Pod, error) {
	shim := []string{layout.BinaryPath, "shim", "--results", layout.ResultsDir, "--stream"}
	if o.Timeout > 0 {
		shim = append(shim, "--test-timeout", o.Timeout.String())
	}
	argv := append(append(shim, "--"), pytest(o)...)
	ids := make([]string, len(o.Cases))
	for i, c := range o.Cases {
		if c.Faketime != o.Cases[0].Faketime {
			return nil, fmt.Errorf("unit %s: tests %s and %s have different faketime values; they cannot share a pod", o.Unit, o.Cases[0].TestID, c.TestID)
		}
		argv = append(argv, c.TestID)
		ids[i] = c.ID
	}
	argv = append(append(argv,
		"--junitxml="+GroupJUnitPath,
		"-o", "junit_family=xunit1",
		"-o", "junit_logging=all",
		"-p", "no:cacheprovider",
		"-p", layout.StreamPlugin,
		"-p", layout.MarkersPlugin,
	), o.PytestArgs...)
	limit := o.ResultLimit
	if limit <= 0 {
		limit = 1 << 20
	}
	limit = min(limit*len(o.Cases), max(limit, maxGroupLimit))
	pod := basePod(o, argv, limit)
	addFaketime(pod, o.Cases[0].Faketime, o.FaketimeLibrary)
	pod.Name = PodName(o.RunID, o.Unit, o.Attempt)
	pod.Labels[LabelCase] = o.Unit
	pod.Annotations = map[string]string{AnnotationCases: strings.Join(ids, ",")}
	if o.Timeout > 0 {
		total := o.Timeout * time.Duration(len(o.Cases))
		pod.Spec.ActiveDeadlineSeconds = ptr.To(int64((total + time.Second - 1) / time.Second))
	}
	return mergeServices(pod, o)
}

// pytest is the command that runs pytest: under coverage.py when asked.
func pytest(o TestPodOptions) []string {
	if o.Coverage {
		return coverage.RunArgs("python", layout.WorkDir)
	}
	return []string{"python", "-m", "pytest"}
}

// basePod is what every test pod has: the test container running argv, the
// collector, the results volume and the run's labels.
func basePod(o TestPodOptions, argv []string, limit int) *corev1.Pod {
	results := corev1.VolumeMount{Name: resultsVolume, MountPath: layout.ResultsDir}
	test := corev1.Container{
		Name:                     TestContainer,
		Image:                    o.Image,
		Command:                  argv,
		WorkingDir:               layout.WorkDir,
		Env:                      []corev1.EnvVar{{Name: layout.ArtifactsEnv, Value: layout.ArtifactsDir}},
		VolumeMounts:             []corev1.VolumeMount{results},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	if o.Coverage {
		test.Env = append(test.Env, corev1.EnvVar{Name: coverage.DataFileEnv, Value: layout.ResultsDir + "/" + coverage.DataPrefix})
	}
	collectorArgs := []string{layout.BinaryPath, "sidecar", "--results", layout.ResultsDir}
	if limit > 0 {
		collectorArgs = append(collectorArgs, "--limit", strconv.Itoa(limit))
	}
	collector := corev1.Container{
		Name:         CollectorContainer,
		Image:        o.Image,
		VolumeMounts: []corev1.VolumeMount{results},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: o.Namespace,
			Labels: map[string]string{
				LabelManagedBy: ManagedBy,
				LabelRun:       o.RunID,
				LabelAttempt:   strconv.Itoa(o.Attempt),
				LabelRole:      "test",
			},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To(int64(DefaultGracePeriod / time.Second)),
			EnableServiceLinks:            ptr.To(false),
			Containers:                    []corev1.Container{test},
			Volumes: []corev1.Volume{{
				Name:         resultsVolume,
				VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}},
			}},
		},
	}
	if o.NativeSidecar {
		collector.Command = append(collectorArgs, "--hold")
		collector.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		pod.Spec.InitContainers = []corev1.Container{collector}
	} else {
		collector.Command = collectorArgs
		pod.Spec.Containers = append(pod.Spec.Containers, collector)
	}
	return pod
}

// addFaketime preloads libfaketime into the test container, and only
// there: the collector's clock must stay real, and the k8s-testrun shim,
// a static binary, ignores LD_PRELOAD, so only pytest and what it starts
// see the fake time.
func addFaketime(pod *corev1.Pod, spec, library string) {
	if spec == "" {
		return
	}
	if library == "" {
		library = faketime.DebianLibrary
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if c.Name != TestContainer {
			continue
		}
		c.Env = append(c.Env,
			corev1.EnvVar{Name: faketime.EnvPreload, Value: library},
			corev1.EnvVar{Name: faketime.EnvSpec, Value: spec},
			corev1.EnvVar{Name: faketime.EnvDontFakeMonotonic, Value: "1"},
		)
	}
}

// mergeTemplate applies pod as a strategic merge patch onto the template:
// containers merge by name, maps merge by key, and what k8s-testrun sets wins.
// The security defaults (see secure) are the exception: they fill in only
// what the template left unset, so a template can relax each.
//
// The pod mounts no ServiceAccount token unless the template names a
// ServiceAccount or sets automountServiceAccountToken: a test has no use
// for the namespace's default token, and an untrusted one must not get it.
func mergeTemplate(pod *corev1.Pod, tmpl *corev1.PodTemplateSpec) (*corev1.Pod, error) {
	if tmpl == nil {
		return secure(withoutToken(pod)), nil
	}
	base, err := json.Marshal(corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec})
	if err != nil {
		return nil, fmt.Errorf("encoding pod template: %w", err)
	}
	patch, err := json.Marshal(pod)
	if err != nil {
		return nil, fmt.Errorf("encoding pod: %w", err)
	}
	merged, err := strategicpatch.StrategicMergePatch(base, patch, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("merging pod template: %w", err)
	}
	out := &corev1.Pod{}
	if err := json.Unmarshal(merged, out); err != nil {
		return nil, fmt.Errorf("decoding merged pod: %w", err)
	}
	return secure(withoutToken(out)), nil
}

// withoutToken turns the ServiceAccount token mount off when neither a
// ServiceAccount nor the mount itself is chosen.
func withoutToken(pod *corev1.Pod) *corev1.Pod {
	if pod.Spec.ServiceAccountName == "" && pod.Spec.DeprecatedServiceAccount == "" && pod.Spec.AutomountServiceAccountToken == nil {
		pod.Spec.AutomountServiceAccountToken = ptr.To(false)
	}
	return pod
}

// ParseTemplate reads a pod template given as YAML or JSON, either a
// PodTemplateSpec (metadata + spec) or a bare PodSpec.
func ParseTemplate(data []byte) (*corev1.PodTemplateSpec, error) {
	if strings.TrimSpace(string(data)) == "" {
		return nil, nil
	}
	var probe map[string]any
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("pod template: %w", err)
	}
	tmpl := &corev1.PodTemplateSpec{}
	_, hasSpec := probe["spec"]
	_, hasMeta := probe["metadata"]
	var err error
	if hasSpec || hasMeta {
		err = yaml.UnmarshalStrict(data, tmpl)
	} else {
		err = yaml.UnmarshalStrict(data, &tmpl.Spec)
	}
	if err != nil {
		return nil, fmt.Errorf("pod template: %w (give a PodTemplateSpec with metadata and spec, or a bare PodSpec)", err)
	}
	return tmpl, nil
}
