package runner

import (
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/defaults"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// Defaults for Options.
const (
	DefaultPendingTimeout = defaults.PendingTimeout
	DefaultResync         = time.Second
)

// Options configures a run. Client, Namespace, RunID, Image and Cases are
// required.
type Options struct {
	Client    kubernetes.Interface
	Namespace string
	RunID     string
	Image     string
	Cases     []plan.Case

	// Parallelism caps concurrent pods; default 1.
	Parallelism int
	// MaxAttempts is 1 + retries; default 1.
	MaxAttempts int
	// MaxFailures stops the run after this many tests failed or errored
	// (see plan.Spec); zero means no limit.
	MaxFailures int
	// Excused are the IDs of the cases whose failure a quarantine
	// excuses: they do not count towards MaxFailures (see plan.Spec).
	Excused map[string]bool
	// InfraRetries is how often a test whose pod the infrastructure took
	// away (evicted, preempted, deleted by someone else, lost with its
	// node) runs again, apart from MaxAttempts; default 0.
	InfraRetries int
	// Timeout is each attempt's activeDeadlineSeconds; zero means none.
	Timeout time.Duration
	// PendingTimeout ends an attempt stuck unschedulable or unable to pull.
	PendingTimeout time.Duration
	NativeSidecar  bool
	Template       *corev1.PodTemplateSpec
	PytestArgs     []string
	ResultLimit    int
	// SlowTimeout replaces Timeout for the cases of the slow lane; zero
	// means Timeout.
	SlowTimeout time.Duration
	// FlakyAttempts is how often a case of the flaky lane runs at most,
	// when above MaxAttempts.
	FlakyAttempts int
	// FaketimeLibrary is the libfaketime of the image, preloaded in the
	// pods of cases with a Faketime; empty means faketime.DebianLibrary.
	FaketimeLibrary string
	// Resync re-evaluates the cache this often, for decisions that depend
	// on time alone; it reads the cache, not the API server.
	Resync time.Duration
	// Units group the cases into pods (see plan.Spec); nil runs one pod
	// per case.
	Units []plan.Unit
	// NodeLostAfter is how long a node's Ready condition stays Unknown or
	// False before the run ends its pods there as NodeLost and runs their
	// tests again; zero means k8s.DefaultNodeLostAfter, below zero the
	// nodes are not watched.
	NodeLostAfter time.Duration
	// Workers bounds the API calls in flight (pod creates, log reads,
	// deletes); zero means the parallelism, at least 4 and at most 32.
	Workers int
	Logger  *slog.Logger
	// OnAttempt, if set, is called after each attempt is collected, on the
	// run's goroutine.
	OnAttempt func(plan.Case, attempt.Attempt)
	// OnPod, if set, hears when a pod's test container is first seen
	// running and when the pod is first seen done or gone, on the loop's
	// goroutine.
	OnPod func(PodEvent)
	// SpillDir, when set, receives the artifacts of every attempt as it is
	// collected, so that they wait for the report on disk, not in memory.
	SpillDir string
	// CoverageDir, when set, runs pytest under coverage.py and receives
	// every attempt's data files, kept on disk rather than in memory.
	CoverageDir string

	// evaluated, if set, hears the pods of each evaluation (tests).
	evaluated func([]plan.Pod)
	// clock paces the wait for a running collector's block; nil means the
	// real clock (tests).
	clock clock.Clock
}
