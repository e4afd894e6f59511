package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

func TestAPICoverageSource(t *testing.T) {
	log := filepath.Join(t.TempDir(), "audit.log")
	require.NoError(t, os.WriteFile(log, nil, 0o600))

	p := &pipeline{cfg: config.Config{}}
	src, err := p.apiCoverageSource()
	require.NoError(t, err)
	assert.Equal(t, auditSource{}, src, "off")

	p = &pipeline{cfg: config.Config{APICoverage: "local"}, environ: []string{"K8S_TESTRUN_AUDIT_LOG=" + log}}
	src, err = p.apiCoverageSource()
	require.NoError(t, err)
	assert.Equal(t, auditSource{file: log}, src)

	p = &pipeline{cfg: config.Config{APICoverage: "kind:ci"}}
	src, err = p.apiCoverageSource()
	require.NoError(t, err)
	assert.Equal(t, "kind:ci (/var/log/kubernetes/kube-apiserver-audit.log in ci-control-plane)", src.String())

	for _, c := range []struct {
		source string
		want   string
	}{
		{"local", "K8S_TESTRUN_AUDIT_LOG is not set"},
		{filepath.Join(t.TempDir(), "none.log"), "cannot read the audit log"},
	} {
		p = &pipeline{cfg: config.Config{APICoverage: c.source}}
		_, err = p.apiCoverageSource()
		var ce *config.Error
		require.True(t, errors.As(err, &ce), "%v", err)
		assert.Contains(t, err.Error(), c.want)
		assert.True(t, isInputError(err), "bad input, named as such")
	}
}

func TestAPICoveragePods(t *testing.T) {
	at := func(pod, uid string) attempt.Attempt { return attempt.Attempt{Pod: pod, PodUID: uid} }
	rep := &report.Report{Cases: []report.CaseResult{
		{Case: plan.Case{TestID: "t.py::a"}, Attempts: []attempt.Attempt{at("p1", "u1"), at("p2", "u2")}},
		{Case: plan.Case{TestID: "g.py::x"}, Attempts: []attempt.Attempt{at("p3", "u3")}},
		{Case: plan.Case{TestID: "g.py::y"}, Attempts: []attempt.Attempt{at("p3", "u3")}},
		{Case: plan.Case{TestID: "t.py::never"}},
	}}
	assert.Equal(t, []apicov.Pod{
		{Namespace: "ns", Name: "p1", UID: "u1", Unit: "t.py::a", Tests: []string{"t.py::a"}},
		{Namespace: "ns", Name: "p2", UID: "u2", Unit: "t.py::a", Tests: []string{"t.py::a"}},
		{Namespace: "ns", Name: "p3", UID: "u3", Unit: "g.py", Tests: []string{"g.py::x", "g.py::y"}},
	}, apiCoveragePods("ns", rep))
}

func TestGroupName(t *testing.T) {
	assert.Equal(t, "t.py::a", groupName([]string{"t.py::a"}))
	assert.Equal(t, "t.py", groupName([]string{"t.py::a", "t.py::b"}))
	assert.Equal(t, "t.py::C", groupName([]string{"t.py::C::a", "t.py::C::b"}))
	assert.Equal(t, "t.py", groupName([]string{"t.py::C::a", "t.py::D::b"}))
	assert.Equal(t, "t.py", groupName([]string{"t.py::C::a", "t.py::b"}))
	assert.Equal(t, "", groupName([]string{"t.py::a", "u.py::a"}), "a shard: the pod names it")
}

func TestAuditFilesTakesRotatedOnesSinceTheRun(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	from := time.Now().Add(-time.Minute)
	for name, mod := range map[string]time.Time{
		"audit.log":                         time.Now(),
		"audit-2026-12-07T00-10-00.000.log": from.Add(-time.Hour),
		"audit-2026-12-07T00-20-00.000.log": from.Add(time.Second),
		"audit-2026-12-07T00-30-00.000.log": from.Add(2 * time.Second),
		"policy.yaml":                       time.Now(),
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, nil, 0o600))
		require.NoError(t, os.Chtimes(p, mod, mod))
	}
	assert.Equal(t, []string{
		filepath.Join(dir, "audit-2026-12-07T00-20-00.000.log"),
		filepath.Join(dir, "audit-2026-12-07T00-30-00.000.log"),
		log,
	}, auditFiles(log, from))
}

func TestPrintAPICoverage(t *testing.T) {
	e := func(path string, hits int64, stable bool) apicov.EndpointCoverage {
		ep := apicov.Endpoint{Method: "GET", Path: path, GroupVersion: "core/v1"}
		ec := apicov.EndpointCoverage{Endpoint: ep, Key: ep.Key(), Stable: stable, Hits: hits}
		if hits > 0 {
			ec.Tests = []string{"t::a"}
		}
		return ec
	}
	r := &apicov.Report{Source: "/a.log", Universe: 3, Hit: 1,
		GroupVersions: []apicov.GroupVersionSummary{{Name: "core/v1", Endpoints: 3, Hit: 1}},
		Endpoints:     []apicov.EndpointCoverage{e("/api/v1/pods", 4, true), e("/api/v1/nodes\n::error::x", 0, true), e("/api/v1/x", 0, false)}}
	var b bytes.Buffer
	printAPICoverage(&b, &report.Report{APICoverage: r})
	out := b.String()
	assert.Contains(t, out, "API coverage: 1 of 3 endpoints (33.3%), from /a.log\n")
	assert.Contains(t, out, "by group/version: core/v1 1/3\n")
	assert.Contains(t, out, "     4  GET /api/v1/pods  (1 tests)\n")
	assert.Contains(t, out, "stable endpoints no test hit: 1\n")
	assert.NotContains(t, out, "\n::error::", "a path from the cluster issues no workflow command")
	assert.NotContains(t, out, "GET /api/v1/x", "not stable")
}

// TestOperatorRunRecordsAPICoverage: run --mode operator takes
// --api-coverage and puts its source on the TestRun it creates.
func TestOperatorRunRecordsAPICoverage(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "pod.yaml")
	require.NoError(t, os.WriteFile(tmpl, []byte("spec:\n  serviceAccountName: tests\n"), 0o644))
	cfg, err := parseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--api-coverage", "kind:ci", "--pod-template", tmpl, dir},
		func(string) string { return "" }, &bytes.Buffer{})
	require.NoError(t, err)
	p := &pipeline{cfg: cfg, runID: "x-1", cluster: &k8s.Cluster{Namespace: "ns"}}
	run, err := p.testRun("img@sha256:1")
	require.NoError(t, err)
	assert.Equal(t, "kind:ci", run.Spec.APICoverage)
	src, err := p.apiCoverageSource()
	require.NoError(t, err)
	assert.Equal(t, "ci", src.kindCluster)
}
