package main

import (
	"fmt"
	"os"
	"strconv"
)

// The API server's audit log: one JSON event a line, at Metadata level,
// so that API coverage can be read from it (which user, which pod, which
// verb on which URI). Metadata never records a request's or response's
// body, so no Secret's data ever reaches the log.
const (
	auditLogMaxSizeMB  = 100
	auditLogMaxBackups = 3
)

// auditPolicy drops what no test makes and only floods the log: the
// control plane's leases and the health probes. RequestReceived is left
// out because ResponseComplete says all it says and more.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  resources:
  - group: coordination.k8s.io
    resources: ["leases"]
  users: ["system:kube-scheduler", "system:kube-controller-manager", "system:apiserver"]
- level: None
  userGroups: ["system:nodes"]
  resources:
  - group: coordination.k8s.io
    resources: ["leases"]
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
`

func (c *Cluster) auditLogPath() string    { return c.path("audit", "audit.log") }
func (c *Cluster) auditPolicyPath() string { return c.path("audit", "policy.yaml") }

// writeAuditPolicy writes the policy the API server's flags name.
func (c *Cluster) writeAuditPolicy() error {
	if err := os.MkdirAll(c.path("audit"), 0o755); err != nil {
		return fmt.Errorf("creating audit dir: %w", err)
	}
	return writeFileAtomic(c.auditPolicyPath(), []byte(auditPolicy), 0o644)
}

// auditArgs are the API server's flags for the audit log.
func (c *Cluster) auditArgs() []string {
	return []string{
		"--audit-policy-file=" + c.auditPolicyPath(),
		"--audit-log-path=" + c.auditLogPath(),
		"--audit-log-format=json",
		"--audit-log-maxsize=" + strconv.Itoa(auditLogMaxSizeMB),
		"--audit-log-maxbackup=" + strconv.Itoa(auditLogMaxBackups),
		// Each event is written before its request returns (the default,
		// named because a reader comes right after a run): batching would
		// hold the last events back.
		"--audit-log-mode=blocking",
	}
}

// auditLogPresent is a health check: a cluster started before the API
// server wrote an audit log is not the cluster this program makes now.
func (c *Cluster) auditLogPresent() error {
	st, err := os.Stat(c.auditLogPath())
	if err != nil {
		return fmt.Errorf("no audit log: %w (the API server runs without auditing; `down` then `up` restarts it)", err)
	}
	if st.Size() == 0 {
		return fmt.Errorf("audit log %s is empty", c.auditLogPath())
	}
	return nil
}
