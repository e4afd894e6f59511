// Package defaults declares, once, the defaults of a run's settings: the
// command line's flags and the action's inputs (internal/config), the
// runner, the operator and the Kubernetes client take them from here, and
// the TestRun CRD's +kubebuilder:default markers, which cannot name a Go
// constant, are checked against them by a test that reads the generated
// CRD. It imports nothing, so any package may depend on it.
package defaults

import "time"

// Defaults of a run.
const (
	// Parallelism is how many test pods run at once.
	Parallelism = 4
	// Timeout bounds each attempt of each test.
	Timeout = 10 * time.Minute
	// PendingTimeout is how long a pod may stay unschedulable or unable
	// to pull its image.
	PendingTimeout = 2 * time.Minute
	// InfraRetries are the extra attempts of a test whose pod the
	// infrastructure took away.
	InfraRetries = 2
	// FlakyRetries are the extra attempts of a test of the flaky lane.
	FlakyRetries = 2
	// ResultLimit caps, in bytes, the results block a pod ships.
	ResultLimit = 1 << 20
	// Sidecar is how the collector runs: native where the server
	// supports it, else a regular container.
	Sidecar = "auto"
	// NodeLostAfter is how long a node's Ready condition must stay
	// Unknown or False before its pods count as lost: long enough that a
	// kubelet restart or a missed heartbeat does not end the tests it
	// runs, short enough that a run waits for a dead node a minute at
	// most.
	NodeLostAfter = 30 * time.Second
)

// Client-side rate limits of the Kubernetes client. client-go's own (QPS
// 5, burst 10) would make pod creation the bottleneck of a run, and so did
// 100 for the operator, which sends about 8 requests a test: at 10,000
// tests (bench B8) it ran at exactly 100 requests a second while the API
// server had room. The API server's priority and fairness still protects
// it.
const (
	KubeAPIQPS   = 300
	KubeAPIBurst = 600
)
