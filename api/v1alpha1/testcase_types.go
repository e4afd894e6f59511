package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCaseSpec names one test of a run.
type TestCaseSpec struct {
	// TestRun is the name of the run, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="testRun is immutable"
	// +required
	TestRun string `json:"testRun"`
	// TestID is pytest's node id of the test.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="testID is immutable"
	// +required
	TestID string `json:"testID"`
	// Index is the test's position in the run, as discovery listed it; the
	// report keeps that order.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Index int32 `json:"index,omitempty"`
	// Base is the index of the test's base in the run's bases, in a
	// runtime matrix, and Image the test image it runs in; unset, the run's
	// Image.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="base is immutable"
	// +optional
	Base int32 `json:"base,omitempty"`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="image is immutable"
	// +optional
	Image string `json:"image,omitempty"`
	// MaxAttempts is how often the test runs at most: 1 + the run's retries.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=11
	// +kubebuilder:default=1
	// +optional
	MaxAttempts int32 `json:"maxAttempts,omitempty"`
	// Faketime is the FAKETIME the test runs under, with libfaketime
	// preloaded: its @pytest.mark.faketime, else the run's; empty for the
	// real time.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Faketime string `json:"faketime,omitempty"`
	// Lane is the test's lane, from its markers and the run's Lanes:
	// serial, slow, flaky or disruptive; empty runs it in parallel.
	// +kubebuilder:validation:Enum="";serial;slow;flaky;disruptive
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="lane is immutable"
	// +optional
	Lane string `json:"lane,omitempty"`
	// Timeout bounds each attempt of the test (its pod's
	// activeDeadlineSeconds): the run's SlowTimeout for the slow lane,
	// else its Timeout; unset means the run's Timeout, 0s none.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// ExpectedDuration is the test's duration in earlier runs, from the
	// run's DurationsConfigMap when the TestCase was created; it orders the
	// pods and balances the shards.
	// +optional
	ExpectedDuration *metav1.Duration `json:"expectedDuration,omitempty"`
	// NotAffected, set when the run's affectedSince left the test out, is
	// the commit it last passed at: the test runs in no pod and ends
	// Skipped, reported "not affected since <sha>: last passed at <sha>".
	// +kubebuilder:validation:MaxLength=100
	// +optional
	NotAffected string `json:"notAffected,omitempty"`
}

// TestCasePhase is where a test stands.
// +kubebuilder:validation:Enum=Pending;Running;Passed;Failed;Error;Skipped;NotRun
type TestCasePhase string

// The phases of a test. A test waiting for a free slot of the run's
// parallelism has no phase yet: not writing one saves a status write per
// test, which at thousands of tests is what holds the operator back.
// Running has a pod that has run for 2 seconds, or a retry to come (a test
// whose pod ends sooner goes from no phase straight to its verdict, one
// write instead of two); the rest are final and are the verdict of the
// last attempt.
const (
	// CasePending is no longer written; TestCases of earlier versions may
	// hold it.
	CasePending TestCasePhase = "Pending"
	CaseRunning TestCasePhase = "Running"
	CasePassed  TestCasePhase = "Passed"
	CaseFailed  TestCasePhase = "Failed"
	CaseError   TestCasePhase = "Error"
	CaseSkipped TestCasePhase = "Skipped"
	// CaseNotRun is final: the run stopped (MaxFailures) before the test
	// had a verdict.
	CaseNotRun TestCasePhase = "NotRun"
)

// Final reports a phase no attempt follows.
func (p TestCasePhase) Final() bool {
	return p == CasePassed || p == CaseFailed || p == CaseError || p == CaseSkipped || p == CaseNotRun
}

// Attempt is one collected run of a test: the outcome the API server gave,
// refined by pytest's own verdict from the collected results.
type Attempt struct {
	// Number counts from 1.
	Number int32  `json:"number"`
	Pod    string `json:"pod"`
	// PodUID tells the pod from another of the same name, in the API
	// server's audit events.
	// +optional
	PodUID string `json:"podUID,omitempty"`
	// +optional
	Node string `json:"node,omitempty"`
	// Status is the verdict: passed, failed, error or skipped.
	// +kubebuilder:validation:Enum=passed;failed;error;skipped
	Status string `json:"status"`
	// ExitCode is the test container's exit code, -1 when it never exited.
	ExitCode int32 `json:"exitCode"`
	// Reason names an infrastructure cause (OOMKilled, DeadlineExceeded,
	// Unschedulable, ImagePullFailed, ...); empty for pytest's own verdict.
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// StartTime and FinishTime bound the test container's run.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	FinishTime *metav1.Time `json:"finishTime,omitempty"`
	// Duration is how long the test ran, to the millisecond, which the two
	// times above, kept to the second, cannot say.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// ResultsError says why the collector's results could not be read; the
	// outcome stands without them.
	// +optional
	ResultsError string `json:"resultsError,omitempty"`
	// Unit names the unit (a class, file or shard) whose pod ran this
	// attempt beside other tests; empty for a pod of this test alone.
	// +optional
	Unit string `json:"unit,omitempty"`
	// UnitAttempt numbers that pod among its unit's, from 1.
	// +optional
	UnitAttempt int32 `json:"unitAttempt,omitempty"`
}

// TestCaseStatus is the standing of one test.
type TestCaseStatus struct {
	// +optional
	Phase TestCasePhase `json:"phase,omitempty"`
	// Attempts is the number of attempts collected so far.
	// +optional
	Attempts int32 `json:"attempts"`
	// ExitCode, Reason, Message, Duration, Node and Pod describe the last
	// collected attempt, or, for Pod and Node, the running one.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// +optional
	Node string `json:"node,omitempty"`
	// +optional
	Pod string `json:"pod,omitempty"`
	// Flaky is true for a test that failed before it passed.
	// +optional
	Flaky bool `json:"flaky,omitempty"`
	// Results names the ConfigMap that keeps the last attempt's results
	// block (binaryData results.gz), as the collector shipped it.
	// +optional
	Results string `json:"results,omitempty"`
	// History holds every collected attempt, in order. An attempt is
	// recorded here before its pod is deleted and before the next attempt
	// starts, so a restarted operator never runs a test more often than
	// MaxAttempts.
	// +listType=atomic
	// +optional
	History []Attempt `json:"history,omitempty"`
}

// TestCase is one test of a TestRun.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=tc,categories=k8s-testrun
// +kubebuilder:printcolumn:name="Test",type=string,JSONPath=`.spec.testID`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Attempts",type=integer,JSONPath=`.status.attempts`
// +kubebuilder:printcolumn:name="Exit",type=integer,JSONPath=`.status.exitCode`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Run",type=string,JSONPath=`.spec.testRun`,priority=1
// +kubebuilder:printcolumn:name="Pod",type=string,JSONPath=`.status.pod`,priority=1
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.node`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TestCase struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec TestCaseSpec `json:"spec"`
	// +optional
	Status TestCaseStatus `json:"status,omitempty"`
}

// TestCaseList is a list of TestCases.
//
// +kubebuilder:object:root=true
type TestCaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TestCase `json:"items"`
}
