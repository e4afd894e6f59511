package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"sigs.k8s.io/yaml"
)

// The audit log must never hold a request's or response's body: Metadata
// is the highest level any rule may name.
func TestAuditPolicyRecordsNoBodies(t *testing.T) {
	var p auditv1.Policy
	require.NoError(t, yaml.UnmarshalStrict([]byte(auditPolicy), &p))
	assert.Equal(t, "Policy", p.Kind)
	require.NotEmpty(t, p.Rules)
	for _, r := range p.Rules {
		assert.Contains(t, []auditv1.Level{auditv1.LevelNone, auditv1.LevelMetadata}, r.Level)
	}
	assert.Equal(t, auditv1.LevelMetadata, p.Rules[len(p.Rules)-1].Level, "the last rule catches every other request")
}

func TestAuditArgsStayInClusterDir(t *testing.T) {
	c := &Cluster{Name: "ktr", Dir: "/d"}
	args := strings.Join(c.auditArgs(), " ")
	for _, want := range []string{
		"--audit-policy-file=/d/audit/policy.yaml",
		"--audit-log-path=/d/audit/audit.log",
		"--audit-log-format=json",
		"--audit-log-maxsize=100",
		"--audit-log-maxbackup=3",
	} {
		assert.Contains(t, args, want)
	}
	assert.Subset(t, c.apiServer(State{}).args, c.auditArgs())
}

// A cluster whose API server writes no audit log is not healthy, so that
// up restarts one started before auditing was configured.
func TestAuditLogPresent(t *testing.T) {
	c := &Cluster{Name: "ktr", Dir: t.TempDir()}
	err := c.auditLogPresent()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no audit log")
	require.NoError(t, os.MkdirAll(filepath.Dir(c.auditLogPath()), 0o755))
	require.NoError(t, os.WriteFile(c.auditLogPath(), nil, 0o600))
	assert.ErrorContains(t, c.auditLogPresent(), "is empty")
	require.NoError(t, os.WriteFile(c.auditLogPath(), []byte("{}\n"), 0o600))
	assert.NoError(t, c.auditLogPresent())
}
