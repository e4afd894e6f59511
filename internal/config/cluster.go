package config

import (
	"fmt"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/defaults"
)

// Defaults of the cluster knobs, internal/k8s's too.
const (
	// DefaultNodeLostAfter is how long a node stays not ready before its
	// pods end as NodeLost.
	DefaultNodeLostAfter = defaults.NodeLostAfter
	// DefaultKubeAPIQPS and DefaultKubeAPIBurst are the client's rate
	// limits.
	DefaultKubeAPIQPS   = defaults.KubeAPIQPS
	DefaultKubeAPIBurst = defaults.KubeAPIBurst
)

// checkCluster checks the node-loss window and the client's rate limits.
// Zero means the default for each: a Config not made from flags gets them.
func (c *Config) checkCluster(bad func(input, value, fix string)) {
	if c.NodeLostAfter < 0 || (c.NodeLostAfter > 0 && c.NodeLostAfter < time.Second) {
		bad("node lost after", c.NodeLostAfter.String(), "must be at least 1s, e.g. 30s (the default); a shorter outage is a kubelet restart, not a lost node")
	}
	if c.KubeAPIQPS < 0 {
		bad("kube api qps", fmt.Sprint(c.KubeAPIQPS), fmt.Sprintf("must be above 0, e.g. %d (the default)", DefaultKubeAPIQPS))
	}
	if c.KubeAPIBurst < 0 {
		bad("kube api burst", fmt.Sprint(c.KubeAPIBurst), fmt.Sprintf("must be 1 or more, e.g. %d (the default)", DefaultKubeAPIBurst))
	}
}
