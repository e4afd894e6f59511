package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Sidecar modes of TestRunSpec.Sidecar.
const (
	SidecarAuto      = "auto"
	SidecarNative    = "native"
	SidecarContainer = "container"
)

// TestRunSpec is what a run must do.
type TestRunSpec struct {
	// Image is the test image: the project's sources, its dependencies and
	// the k8s-testrun binary, as `k8s-testrun run` builds and pushes it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="image is immutable"
	// +required
	Image string `json:"image"`

	// Bases make the run a runtime matrix: every test runs in the test
	// image of each base, and the report has one testsuite per base. The
	// first base's image is Image. Unset runs every test in Image alone.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="bases are immutable"
	// +kubebuilder:validation:XValidation:rule="self.all(b, self.exists_one(c, c.name == b.name))",message="give each base once"
	// +listType=atomic
	// +optional
	Bases []MatrixBase `json:"bases,omitempty"`

	// Tests are the pytest node ids to run. When empty, a discovery pod runs
	// `pytest --collect-only` in the image, narrowed by Selection.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="tests are immutable"
	// +kubebuilder:validation:items:MinLength=1
	// +listType=atomic
	// +optional
	Tests []string `json:"tests,omitempty"`

	// RerunTests are the pytest node ids of an earlier run's failed tests
	// to run again, as `run --rerun-failed` gives them. Unlike Tests, the
	// tests are discovered as for a full run, so each keeps its markers,
	// faketime and lane; then only these of the tests found run. Those no
	// longer found are named in a RerunMissing event; when none is found,
	// the run ends in error.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="rerunTests are immutable"
	// +kubebuilder:validation:items:MinLength=1
	// +listType=atomic
	// +optional
	RerunTests []string `json:"rerunTests,omitempty"`

	// CollectionConfigMap names the ConfigMaps, in the run's namespace,
	// that carry the discovery's log (key discovery.log.gz, gzipped), one
	// per base: this name for the first, with -b1, -b2, ... for the
	// others. When one holds its base's log, the operator parses it as it
	// would its discovery pod's log and starts no discovery pod; otherwise
	// it discovers and, when the gzipped log fits in a ConfigMap, writes
	// it there, owned by the run. `run --mode operator` fills them from
	// its collection cache and keeps what the operator wrote in it.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="collectionConfigMap is immutable"
	// +kubebuilder:validation:MaxLength=240
	// +optional
	CollectionConfigMap string `json:"collectionConfigMap,omitempty"`

	// Selection are pytest arguments for discovery: paths, -k, -m.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="selection is immutable"
	// +listType=atomic
	// +optional
	Selection []string `json:"selection,omitempty"`

	// Parallelism caps the test pods that run at once.
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Parallelism int32 `json:"parallelism,omitempty"`

	// Timeout bounds each attempt of each test (its pod's
	// activeDeadlineSeconds), e.g. 90s or 10m; 0s means none.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="give a duration such as 90s or 10m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// PendingTimeout is how long a pod may stay unschedulable or unable to
	// pull its image before its attempt ends as an error.
	// +kubebuilder:default="2m"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="give a positive duration such as 2m"
	// +optional
	PendingTimeout *metav1.Duration `json:"pendingTimeout,omitempty"`

	// Retries are extra attempts for a failed test; a test that passes on a
	// retry counts as flaky.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="retries are immutable"
	// +optional
	Retries int32 `json:"retries,omitempty"`

	// InfraRetries are extra attempts for a test whose pod the
	// infrastructure took away (evicted, preempted, deleted by someone
	// else, lost with its node); they are apart from Retries and never
	// count as the test's failures.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:default=2
	// +optional
	InfraRetries *int32 `json:"infraRetries,omitempty"`

	// NodeLostAfter is how long a node's Ready condition may stay Unknown
	// or False before the run's pods there end as NodeLost and their tests
	// run again elsewhere, as infrastructure retries. It takes an operator
	// that may list and watch nodes; without, a lost node's pods end when
	// the cluster evicts them.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="give a duration of at least 1s, such as 30s"
	// +optional
	NodeLostAfter *metav1.Duration `json:"nodeLostAfter,omitempty"`

	// Sidecar is how the collector runs: native (an init container with
	// restartPolicy Always), container (a regular container), or auto
	// (native where the server supports it). A run with
	// LingerSecondsOnFailure always uses a regular container, because only
	// that can keep a finished pod alive.
	// +kubebuilder:validation:Enum=auto;native;container
	// +kubebuilder:default=auto
	// +optional
	Sidecar string `json:"sidecar,omitempty"`

	// ResultLimit caps, in bytes, the results block each pod ships.
	// +kubebuilder:validation:Minimum=4096
	// +kubebuilder:validation:Maximum=1048576
	// +kubebuilder:default=1048576
	// +optional
	ResultLimit int32 `json:"resultLimit,omitempty"`

	// PodTemplate is merged into every test pod: a PodTemplateSpec (or a
	// bare PodSpec) whose node selector, tolerations, resources, env of the
	// container named "test", and so on, the pods keep. It is kept as given
	// and read by the operator, which fails the run if it is not a valid
	// template: one malformed run must not stop the operator from reading
	// the others.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	PodTemplate *runtime.RawExtension `json:"podTemplate,omitempty"`

	// TTLSecondsAfterFinished deletes the run, its TestCases and their pods
	// this long after it finished. Unset keeps it until deleted.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// LingerSecondsOnFailure keeps the pod of a test that finally failed (or
	// errored) alive this long after the test ended, held by its collector,
	// so its files can be inspected. It ends early when the run is deleted
	// or its TTL passes.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	LingerSecondsOnFailure int32 `json:"lingerSecondsOnFailure,omitempty"`

	// Faketime, when set, is the FAKETIME every test runs under, with
	// Debian's libfaketime preloaded in its test container, e.g.
	// "2031-06-01 12:00:00", "@2031-06-01 12:00:00" or "+3d"; a test's
	// @pytest.mark.faketime overrides it. The image needs libfaketime.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Faketime string `json:"faketime,omitempty"`
	// MaxFailures stops the run once this many tests have finally failed
	// or errored: no further pod is created, the running ones are deleted,
	// and the tests without a verdict end NotRun. 0 means no limit.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="maxFailures is immutable"
	// +optional
	MaxFailures int32 `json:"maxFailures,omitempty"`

	// Lanes map lane policies (serial, slow, flaky, disruptive) to the
	// pytest markers that put a test in them, e.g. {serial: [serial,
	// db_migration]}; a policy left out keeps the marker of its own name.
	// serial tests run with no other test pod alive, after the parallel
	// ones; slow ones get SlowTimeout and start first; flaky ones get
	// FlakyRetries; disruptive ones run alone, last.
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['serial', 'slow', 'flaky', 'disruptive'])",message="lanes are serial, slow, flaky or disruptive"
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].size() > 0)",message="give each lane at least one marker"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="lanes are immutable"
	// +kubebuilder:validation:MaxProperties=4
	// +optional
	Lanes map[string]LaneMarkers `json:"lanes,omitempty"`

	// SlowTimeout bounds each attempt of a test of the slow lane; unset or
	// 0s means 3× Timeout.
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="give a duration such as 30m"
	// +optional
	SlowTimeout *metav1.Duration `json:"slowTimeout,omitempty"`

	// FlakyRetries are extra attempts for a failed test of the flaky lane,
	// even when Retries is 0; a test runs at most 1 + the larger of the
	// two. Unset means 2.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="flakyRetries are immutable"
	// +optional
	FlakyRetries *int32 `json:"flakyRetries,omitempty"`

	// PodPer is what one pod runs: test (each test alone, the default),
	// class, file, or auto (from the durations: tests past a threshold
	// alone, the rest packed by file; by file with none). Every test keeps its own TestCase and verdict; when a
	// shared pod dies, the test it was running gets the pod's reason, the
	// finished ones keep theirs and the rest run again in a fresh pod.
	// +kubebuilder:validation:Enum=test;class;file;auto
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="podPer is immutable"
	// +optional
	PodPer string `json:"podPer,omitempty"`

	// Shards, above 0, splits the tests into that many pods instead of
	// PodPer, balanced by the tests' expected durations. Tests of the
	// serial and disruptive lanes still run alone.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="shards are immutable"
	// +optional
	Shards int32 `json:"shards,omitempty"`

	// DurationsConfigMap names a ConfigMap in the run's namespace that keeps
	// the tests' durations from one run to the next (key durations.json, in
	// the format of --durations-file). It is read when the TestCases are
	// created, to start the slowest tests first and balance the shards, and
	// updated with this run's durations when the run finishes. Unset keeps
	// no history.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="durationsConfigMap is immutable"
	// +optional
	DurationsConfigMap string `json:"durationsConfigMap,omitempty"`

	// APICoverage, with the pod template naming a serviceAccountName, asks
	// which API endpoints each test hit: the source of the API server's
	// audit events (a file path, local or kind:CLUSTER). The k8s-testrun
	// run or action that created the TestRun reads them once the run ends,
	// from its own side; the operator records the pods' UIDs for it and
	// reads no audit log.
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="apiCoverage is immutable"
	// +optional
	APICoverage string `json:"apiCoverage,omitempty"`

	// History records the run in the project's history store and compares
	// it with a base (status.comparison). Unset keeps no history.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="history is immutable"
	// +optional
	History *HistorySpec `json:"history,omitempty"`

	// Quarantine names the quarantine file (--quarantine's format): the
	// failures of the tests it names, until each entry's date, are
	// reported as quarantined and do not fail the run. It is read once,
	// when the run starts; a bad entry ends the run in Error.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="quarantine is immutable"
	// +optional
	Quarantine *QuarantineRef `json:"quarantine,omitempty"`
}

// MatrixBase is one base image of a runtime matrix and the test image
// built on it.
type MatrixBase struct {
	// Name is the base image as given to k8s-testrun; it names the base's
	// testsuite.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +required
	Name string `json:"name"`
	// Image is the test image built on the base.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +required
	Image string `json:"image"`
}

// BaseStatus is what discovery found in one base of a runtime matrix.
type BaseStatus struct {
	// Name is the base's name, as in the spec.
	Name string `json:"name"`
	// Python and Pytest are the versions that collected the tests.
	// +optional
	Python string `json:"python,omitempty"`
	// +optional
	Pytest string `json:"pytest,omitempty"`
	// Total is the number of tests on this base.
	// +optional
	Total int32 `json:"total"`
}

// LaneMarkers are pytest marker names: Python identifiers.
// +kubebuilder:validation:MaxItems=64
// +kubebuilder:validation:items:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
// +kubebuilder:validation:items:MaxLength=128
// +listType=atomic
type LaneMarkers []string

// TestRunPhase is where a run stands.
// +kubebuilder:validation:Enum=Pending;Discovering;Running;Succeeded;Failed;Error
type TestRunPhase string

// The phases of a run. Succeeded, Failed and Error are final: Succeeded when
// every test passed or was skipped, Failed when a test failed or errored,
// Error when the run itself could not be carried out (discovery failed, no
// tests, an invalid pod template).
const (
	RunPending     TestRunPhase = "Pending"
	RunDiscovering TestRunPhase = "Discovering"
	RunRunning     TestRunPhase = "Running"
	RunSucceeded   TestRunPhase = "Succeeded"
	RunFailed      TestRunPhase = "Failed"
	RunError       TestRunPhase = "Error"
)

// Finished reports a final phase.
func (p TestRunPhase) Finished() bool {
	return p == RunSucceeded || p == RunFailed || p == RunError
}

// Condition types of a TestRun.
const (
	// ConditionDiscovered is True once the run's TestCases exist.
	ConditionDiscovered = "Discovered"
	// ConditionComplete is True once every test is final.
	ConditionComplete = "Complete"
	// ConditionReportReady is True once the merged JUnit report is stored.
	ConditionReportReady = "ReportReady"
	// ConditionStopped is True once the run reached its MaxFailures: no
	// test starts any more.
	ConditionStopped = "Stopped"
)

// ReportRef says where the merged JUnit report of a run is kept.
type ReportRef struct {
	// ConfigMap is the name of a ConfigMap in the run's namespace.
	ConfigMap string `json:"configMap"`
	// Key is the report's key: junit.xml in data, or junit.xml.gz (gzip) in
	// binaryData when the report is too large to keep as text.
	Key string `json:"key"`
}

// TestRunStatus is the run's summary.
type TestRunStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	Phase TestRunPhase `json:"phase,omitempty"`
	// Message says why a run is in Error, or summarises a finished run.
	// +optional
	Message string `json:"message,omitempty"`

	// Total is the number of tests in the run.
	// +optional
	Total int32 `json:"total"`
	// Passed, Failed, Errors and Skipped count the tests that are final,
	// by their last attempt's verdict.
	// +optional
	Passed int32 `json:"passed"`
	// +optional
	Failed int32 `json:"failed"`
	// +optional
	Errors int32 `json:"errors"`
	// +optional
	Skipped int32 `json:"skipped"`
	// Flaky counts the passed tests that failed before they passed.
	// +optional
	Flaky int32 `json:"flaky"`
	// Active is the number of test pods running now.
	// +optional
	Active int32 `json:"active"`
	// CollectionSkipped counts the modules pytest skipped at collection
	// (pytest.importorskip, pytest.skip(allow_module_level=True)); Total
	// and Skipped include them, as pytest's counts do. They run in no pod.
	// +optional
	CollectionSkipped int32 `json:"collectionSkipped,omitempty"`
	// Quarantined counts the failed or errored tests the quarantine
	// excused; they count in neither Failed nor Errors.
	// +optional
	Quarantined int32 `json:"quarantined,omitempty"`
	// NotRun counts the tests a stopped run (MaxFailures) left out.
	// +optional
	NotRun int32 `json:"notRun,omitempty"`
	// Comparison counts the finished run against its base (spec.history).
	// +optional
	Comparison *ComparisonStatus `json:"comparison,omitempty"`
	// Bases are what discovery found in each base of a runtime matrix, in
	// the order of the spec's bases.
	// +listType=atomic
	// +optional
	Bases []BaseStatus `json:"bases,omitempty"`

	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Report is where the merged JUnit report is, once the run finished.
	// +optional
	Report *ReportRef `json:"report,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TestRun is one run of a pytest suite, one pod per test, or per class,
// file or shard of tests.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=tr;ktr,categories=k8s-testrun
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Total",type=integer,JSONPath=`.status.total`
// +kubebuilder:printcolumn:name="Passed",type=integer,JSONPath=`.status.passed`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.failed`
// +kubebuilder:printcolumn:name="Errors",type=integer,JSONPath=`.status.errors`
// +kubebuilder:printcolumn:name="Skipped",type=integer,JSONPath=`.status.skipped`
// +kubebuilder:printcolumn:name="New failures",type=integer,JSONPath=`.status.comparison.newFailures`
// +kubebuilder:printcolumn:name="Flaky",type=integer,JSONPath=`.status.flaky`,priority=1
// +kubebuilder:printcolumn:name="Active",type=integer,JSONPath=`.status.active`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 40 && !self.metadata.name.contains('.')",message="name must be a DNS label of at most 40 characters: it names the run's pods and labels"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.bases) || self.spec.bases.size() == 0 || self.spec.bases[0].image == self.spec.image",message="the first base's image must be spec.image"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.tests) || !has(self.spec.rerunTests)",message="give spec.tests or spec.rerunTests, not both"
type TestRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec TestRunSpec `json:"spec"`
	// +optional
	Status TestRunStatus `json:"status,omitempty"`
}

// TestRunList is a list of TestRuns.
//
// +kubebuilder:object:root=true
type TestRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TestRun `json:"items"`
}
