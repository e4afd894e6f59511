//go:build e2e

package e2e

import "testing"

// testNodeLost is TestNodeLost through the operator: the TestRun's
// nodeLostAfter (the default 30s, from --node-lost-after) ends the pods of
// the fake node gone NotReady within 90s, and their tests run again as
// infrastructure retries, with the sample's own verdicts.
func (e *opEnv) testNodeLost(t *testing.T) {
	runNodeLost(t, e.c, e.ns, "--mode", "operator")
}
