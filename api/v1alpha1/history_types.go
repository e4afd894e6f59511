package v1alpha1

// HistorySpec keeps a run's results in the project's history store, a
// ConfigMap, and compares them with a base's.
type HistorySpec struct {
	// ConfigMap names the ConfigMap in the run's namespace that keeps the
	// project's history: per commit, each test's verdict, duration,
	// attempts and reasons, in the format of --history's records, gzipped
	// under the key <commit>.json.gz. The oldest commits are pruned past 50,
	// or past what a ConfigMap holds (1 MiB). It is created if need be.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +required
	ConfigMap string `json:"configMap"`
	// Commit is the commit the run tests, under which its results are
	// recorded once it finished. Unset compares without recording.
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^[0-9A-Za-z_-][0-9A-Za-z._-]*$`
	// +optional
	Commit string `json:"commit,omitempty"`
	// Branch is the branch the commit is on, recorded with it.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Branch string `json:"branch,omitempty"`
	// CompareTo is the base: a commit recorded in the ConfigMap (in full,
	// or a prefix of at least 7 characters), or a branch (its newest
	// record). Unset compares with the newest earlier record of Branch.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	CompareTo string `json:"compareTo,omitempty"`
}

// ComparisonStatus counts a finished run's tests against its base's.
type ComparisonStatus struct {
	// Base is the base's commit, Branch its branch when recorded.
	Base string `json:"base"`
	// +optional
	Branch string `json:"branch,omitempty"`
	// NewFailures failed here and passed on the base.
	NewFailures int32 `json:"newFailures"`
	// Fixed passed here and failed on the base.
	Fixed int32 `json:"fixed"`
	// StillFailing failed both here and on the base.
	StillFailing int32 `json:"stillFailing"`
	// NewFlaky are flaky here and were not on the base.
	NewFlaky int32 `json:"newFlaky"`
	// NewTests are here and not on the base; FailingNewTests those of them
	// that failed; RemovedTests are on the base and not here.
	NewTests        int32 `json:"newTests"`
	FailingNewTests int32 `json:"failingNewTests"`
	RemovedTests    int32 `json:"removedTests"`
	// Slower passed at least 2× and 1 s slower than on the base.
	Slower int32 `json:"slower"`
	// NewFailureTests are the new failures' test ids, the first 20.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	NewFailureTests []string `json:"newFailureTests,omitempty"`
}

// ConditionCompared is True once a finished run was compared with its
// base; False, with the reason, when there was none to compare with.
const ConditionCompared = "Compared"

// QuarantineRef names the quarantine file of a run, kept in a ConfigMap.
type QuarantineRef struct {
	// ConfigMap names a ConfigMap in the run's namespace.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +required
	ConfigMap string `json:"configMap"`
	// Key is the key of its data that holds the file, in the format of
	// --quarantine; unset means quarantine.yaml.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`
}

// AffectedSince names the tests a change since a base commit cannot
// affect.
type AffectedSince struct {
	// Commit is the base, recorded in the history with footprints.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^[0-9A-Za-z_-][0-9A-Za-z._-]*$`
	// +required
	Commit string `json:"commit"`
	// NotAffected are the test ids that passed at Commit and whose
	// footprint holds none of the changed files.
	// +kubebuilder:validation:MaxItems=20000
	// +kubebuilder:validation:items:MaxLength=4096
	// +listType=atomic
	// +optional
	NotAffected []string `json:"notAffected,omitempty"`
}
