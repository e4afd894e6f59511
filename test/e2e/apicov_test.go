//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/test/support"
)

// The local cluster's env file names these (hack/cluster).
const (
	envKubernetesBase = "K8S_TESTRUN_KUBERNETES_BASE_IMAGE"
	envAuditLog       = "K8S_TESTRUN_AUDIT_LOG"
)

// apicovExpected is what each test of testdata/apicov calls.
var apicovExpected = support.APICoverageExpected

// apicovAccount creates the ServiceAccount apicov and a Role that allows
// exactly what the tests call, and returns the pod template that names
// it, as YAML. On a cluster whose API server the pods reach only on the node's
// loopback (the local cluster runs no kube-proxy), the pods share the
// node's network and are pointed at it.
func (c *Cluster) apicovAccount(t *testing.T, ns string) string {
	t.Helper()
	ctx := Context(t, time.Minute)
	require.NoError(t, support.CreateAPICoverageAccount(ctx, c.Client, ns))

	tmpl := "spec:\n  serviceAccountName: apicov\n"
	u, err := url.Parse(c.Config.Host)
	require.NoError(t, err)
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
		port := u.Port()
		if port == "" {
			port = "443"
		}
		tmpl += fmt.Sprintf("  hostNetwork: true\n  containers:\n  - name: %s\n    env:\n    - {name: KUBERNETES_SERVICE_HOST, value: %q}\n    - {name: KUBERNETES_SERVICE_PORT, value: %q}\n",
			k8s.TestContainer, u.Hostname(), port)
	}
	return tmpl
}

// openAPIOperations counts the (method, path) pairs of every OpenAPI v3
// document the cluster serves, read here with plain GETs.
func (c *Cluster) openAPIOperations(t *testing.T) int {
	t.Helper()
	ctx := Context(t, time.Minute)
	rc := c.Client.Discovery().RESTClient()
	raw, err := rc.Get().AbsPath("/openapi/v3").Do(ctx).Raw()
	require.NoError(t, err)
	var index struct {
		Paths map[string]struct {
			URL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &index))
	ops := map[string]bool{}
	for _, p := range index.Paths {
		u, err := url.Parse(p.URL)
		require.NoError(t, err)
		req := rc.Get().AbsPath(u.Path)
		for k, vs := range u.Query() {
			for _, v := range vs {
				req = req.Param(k, v)
			}
		}
		b, err := req.Do(ctx).Raw()
		require.NoError(t, err, p.URL)
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		require.NoError(t, json.Unmarshal(b, &doc), p.URL)
		for path, item := range doc.Paths {
			for _, m := range []string{"get", "put", "post", "delete", "options", "head", "patch"} {
				if _, ok := item[m]; ok {
					ops[m+" "+path] = true
				}
			}
		}
	}
	return len(ops)
}

// TestAPICoverage runs testdata/apicov one pod per test on the image with
// Debian's python3-kubernetes, as a ServiceAccount allowed exactly what
// the tests call, with --api-coverage local: each test's endpoints in
// api-coverage.json are exactly the ones it calls (nothing for the test
// that calls nothing, nothing of one test in another's), its JUnit
// property counts them, the universe is every operation of the cluster's
// OpenAPI, and the summary's percentage follows from them.
func TestAPICoverage(t *testing.T) {
	c := Connect(t)
	base := os.Getenv(envKubernetesBase)
	require.NotEmpty(t, base, "set %s to a Python image with python3-kubernetes (the local cluster's env file names one)", envKubernetesBase)
	require.NotEmpty(t, os.Getenv(envAuditLog), "set %s to the API server's audit log (the local cluster's env file names it)", envAuditLog)
	ns := c.NewNamespace(t, "e2e-apicov")
	tmpl := filepath.Join(t.TempDir(), "pod-template.yaml")
	require.NoError(t, os.WriteFile(tmpl, []byte(c.apicovAccount(t, ns)), 0o644))
	out := t.TempDir()
	report := filepath.Join(out, "junit.xml")

	res := c.RunCLI(Context(t, 10*time.Minute), t, nil, append(c.runArgs(t, ns, report,
		"--base-image", base, "--pod-template", tmpl, "--api-coverage", "local"), Testdata("apicov"))...)
	require.Equal(t, 0, res.Exit, "stderr:\n%s", res.Stderr)
	c.RequireNoRunPods(t, ns)

	ts := readReport(t, report)
	pods := podsOf(t, ts)
	require.Len(t, pods, 4)
	assert.Equal(t, 4, distinct(pods), "one pod per test: %v", pods)
	c.requireAPICoverage(t, out, ts, res.Stdout)
}

// requireAPICoverage checks api-coverage.json in dir, the JUnit report
// ts and the terminal summary stdout of a run of testdata/apicov one pod
// per test: each test's endpoints exactly, the endpoint index, the
// universe and the percentage.
func (c *Cluster) requireAPICoverage(t *testing.T, dir string, ts junit.Testsuites, stdout string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, apicov.ReportFile))
	require.NoError(t, err, "api-coverage.json is beside the JUnit report")
	var r apicov.Report
	require.NoError(t, json.Unmarshal(b, &r))

	got := map[string][]string{}
	for _, tc := range r.Tests {
		got[tc.Test] = slices.Sorted(maps.Keys(tc.Endpoints))
		assert.False(t, tc.Grouped, tc.Test)
	}
	want := map[string][]string{}
	union := map[string]bool{}
	for id, eps := range apicovExpected {
		want[id] = slices.Sorted(slices.Values(eps))
		for _, e := range eps {
			union[e] = true
		}
	}
	assert.Equal(t, want, got, "each test's endpoints, exactly")

	for _, s := range ts.Suites {
		for _, tc := range s.Testcases {
			id, _ := tc.Property(junit.PropertyTestID)
			v, ok := tc.Property(apicov.PropertyEndpoints)
			if assert.True(t, ok, "%s has the endpoint count", id) {
				assert.Equal(t, strconv.Itoa(len(apicovExpected[id])), v, id)
			}
		}
	}
	for _, e := range r.Endpoints {
		if union[e.Key] {
			var who []string
			for id, eps := range apicovExpected {
				if slices.Contains(eps, e.Key) {
					who = append(who, id)
				}
			}
			slices.Sort(who)
			assert.Equal(t, who, e.Tests, "the index of %s", e.Key)
		} else {
			assert.Zero(t, e.Hits, "%s was hit by no test", e.Key)
		}
	}

	universe := c.openAPIOperations(t)
	assert.Equal(t, universe, r.Universe, "the universe is every operation the cluster's OpenAPI lists")
	assert.Equal(t, len(union), r.Hit)
	pct := fmt.Sprintf("%.1f%%", 100*float64(len(union))/float64(universe))
	assert.Contains(t, stdout, fmt.Sprintf("API coverage: %d of %d endpoints (%s)", len(union), universe, pct))
	assert.Zero(t, r.Unmatched, "every request of the tests is an endpoint: %v", r.UnmatchedExamples)
	t.Logf("API coverage: %d of %d endpoints (%s); %d requests counted, %d events of other pods, read %d lines (%d bytes)",
		r.Hit, r.Universe, pct, r.Counted, r.OtherPods, r.Read.Lines, r.Read.Bytes)
	assert.True(t, strings.Contains(stdout, "most hit:"), "the most-hit endpoints in the terminal summary")
}

// TestActionAPICoverage runs testdata/apicov as the action, one pod for
// the file, with api_coverage local: every test of the grouped pod gets
// the pod's endpoints, said so in api-coverage.json and in the job
// summary's API coverage section.
func TestActionAPICoverage(t *testing.T) {
	c := Connect(t)
	base := os.Getenv(envKubernetesBase)
	require.NotEmpty(t, base, "set %s", envKubernetesBase)
	require.NotEmpty(t, os.Getenv(envAuditLog), "set %s", envAuditLog)
	ns := c.NewNamespace(t, "e2e-action-apicov")
	_, srv := newChecksAPI(t, false)
	s := c.actionStep(t, srv.URL, ns, "testdata/apicov", map[string]string{
		"base_image": base, "pod_template": c.apicovAccount(t, ns), "api_coverage": "local", "pod_per": "file",
	})
	res := c.RunCLI(Context(t, 8*time.Minute), t, s.env, "action")
	require.Equal(t, 0, res.Exit, "stderr:\n%s", res.Stderr)
	c.RequireNoRunPods(t, ns)
	pods := podsOf(t, readReport(t, s.junit))
	require.Len(t, pods, 4)
	assert.Equal(t, 1, distinct(pods), "one pod for the file: %v", pods)

	b, err := os.ReadFile(filepath.Join(filepath.Dir(s.junit), apicov.ReportFile))
	require.NoError(t, err)
	var r apicov.Report
	require.NoError(t, json.Unmarshal(b, &r))
	var union []string
	for _, eps := range apicovExpected {
		union = append(union, eps...)
	}
	slices.Sort(union)
	require.Len(t, r.Tests, 4)
	for _, tc := range r.Tests {
		assert.True(t, tc.Grouped, tc.Test)
		assert.Equal(t, []string{"tests/test_api.py"}, tc.Units, tc.Test)
		assert.Equal(t, union, slices.Sorted(maps.Keys(tc.Endpoints)), "%s counts its pod's endpoints", tc.Test)
	}
	md, err := os.ReadFile(s.summary)
	require.NoError(t, err)
	pct := fmt.Sprintf("%.1f%%", 100*float64(len(union))/float64(r.Universe))
	assert.Contains(t, string(md), fmt.Sprintf("#### API coverage\n\n**%d of %d endpoints (%s)**", len(union), r.Universe, pct))
	assert.Contains(t, string(md), "Tests that ran in a grouped pod (a file, class or shard) each count their whole pod's endpoints.")
	assert.Contains(t, string(md), "| `core/v1` | 4 |")
}
