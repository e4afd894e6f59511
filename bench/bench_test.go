package bench

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const metricsText = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 12
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="log",verb="CONNECT",version="v1"} 5
apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 40
apiserver_request_total{code="0",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"} 2
apiserver_flowcontrol_dispatched_requests_total{flow_schema="ktr-bench-1",priority_level="global-default"} 29
apiserver_flowcontrol_dispatched_requests_total{flow_schema="exempt",priority_level="exempt"} 1602
`

func TestParseRequestTotals(t *testing.T) {
	got, err := ParseRequestTotals([]byte(metricsText))
	require.NoError(t, err)
	assert.Equal(t, RequestCounts{
		{Verb: "POST", Resource: "pods"}:                        13,
		{Verb: "CONNECT", Resource: "pods", Subresource: "log"}: 5,
		{Verb: "WATCH", Resource: "pods"}:                       2,
	}, got)
	assert.Equal(t, map[string]float64{"ktr-bench-1": 29, "exempt": 1602}, ParseDispatched([]byte(metricsText)))

	_, err = ParseRequestTotals([]byte(`apiserver_request_total{verb="GET" 1`))
	require.Error(t, err)
}

func TestParseLabelsEscapes(t *testing.T) {
	got, err := parseLabels(`a="x\"y",b="1\\2",c=""`)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": `x"y`, "b": `1\2`, "c": ""}, got)
	_, err = parseLabels(`a="open`)
	require.Error(t, err)
}

func TestRequestCountsSubAndKeys(t *testing.T) {
	a := RequestCounts{{Verb: "POST", Resource: "pods"}: 10, {Verb: "GET", Resource: "pods"}: 3}
	b := RequestCounts{{Verb: "POST", Resource: "pods"}: 4, {Verb: "PUT", Resource: "leases"}: 2}
	d := a.Sub(b)
	assert.Equal(t, 6.0, d[RequestKey{Verb: "POST", Resource: "pods"}])
	assert.Equal(t, -2.0, d[RequestKey{Verb: "PUT", Resource: "leases"}])
	assert.Equal(t, "POST pods", d.Keys()[0].String())
}

func TestClassifyRequest(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		want        string
	}{
		{"POST", "/api/v1/namespaces/ns/pods", "POST pods"},
		{"DELETE", "/api/v1/namespaces/ns/pods/p", "DELETE pods"},
		{"GET", "/api/v1/namespaces/ns/pods/p", "GET pods"},
		{"GET", "/api/v1/namespaces/ns/pods?labelSelector=a%3Db", "LIST pods"},
		{"GET", "/api/v1/namespaces/ns/pods?watch=true&resourceVersion=5", "WATCH pods"},
		{"GET", "/api/v1/namespaces/ns/pods?watch=true&sendInitialEvents=true", WatchListVerb + " pods"},
		{"GET", "/api/v1/namespaces/ns/pods/p/log?container=collector", "CONNECT pods/log"},
		{"GET", "/api/v1/namespaces/ns", "GET namespaces"},
		{"GET", "/api/v1/nodes", "LIST nodes"},
		{"POST", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas", "POST flowschemas"},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/status", "PATCH deployments/status"},
	} {
		u, err := url.Parse(tc.url)
		require.NoError(t, err)
		k, ok := ClassifyRequest(tc.method, u)
		require.True(t, ok, tc.url)
		assert.Equal(t, tc.want, k.String(), tc.url)
	}
	_, ok := ClassifyRequest("GET", &url.URL{Path: "/metrics"})
	assert.False(t, ok)
}

func TestPlainWatchQuery(t *testing.T) {
	q := func(s string) url.Values {
		v, err := url.ParseQuery(s)
		require.NoError(t, err)
		return v
	}
	got := PlainWatchQuery(q("watch=true&resourceVersion=0&allowWatchBookmarks=true"))
	assert.Equal(t, "false", got.Get("sendInitialEvents"))
	assert.Equal(t, "NotOlderThan", got.Get("resourceVersionMatch"))
	assert.Equal(t, "0", PlainWatchQuery(q("watch=1")).Get("resourceVersion"))
	for _, unchanged := range []string{
		"watch=true&resourceVersion=42",
		"watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
		"labelSelector=a",
	} {
		assert.Equal(t, q(unchanged), PlainWatchQuery(q(unchanged)), unchanged)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 95*time.Millisecond, Percentile(ds, 95))
	assert.Equal(t, 50*time.Millisecond, Percentile(ds, 50))
	assert.Equal(t, 100*time.Millisecond, Percentile(ds, 100))
	assert.Equal(t, time.Millisecond, Percentile(ds, 0))
	assert.Zero(t, Percentile(nil, 95))
	assert.Equal(t, 100*time.Millisecond, ds[0], "the input is not reordered")
}

func TestSummarise(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Parallelism 1: each pod starts 100ms after the previous one ended.
	pods := []PodTimes{
		{Name: "a", Created: at(0), Scheduled: at(10), Running: at(1000), TestExited: at(2000), Terminal: at(3000), Gone: at(3050)},
		{Name: "b", Created: at(3100), Scheduled: at(3110), Running: at(4100), TestExited: at(5100), Terminal: at(6100), Gone: at(6150)},
	}
	b := Summarise(pods, 1)
	assert.Equal(t, 2, b.Pods)
	assert.Equal(t, 10*time.Millisecond, b.ToScheduled)
	assert.Equal(t, time.Second, b.ExitToTerminal)
	assert.Equal(t, 3*time.Second, b.Life)
	assert.Equal(t, 50*time.Millisecond, b.TerminalToGone)
	assert.Equal(t, 100*time.Millisecond, b.Gap)
	assert.Contains(t, b.String(), "slot gap 100ms")

	// A pod deleted at its test's exit ends there.
	pods[1].Terminal, pods[1].Gone = time.Time{}, at(5200)
	b = Summarise(pods, 1)
	assert.Equal(t, 2500*time.Millisecond, b.Life, "3s and 2s")
	assert.Equal(t, 75*time.Millisecond, b.TerminalToGone, "50ms and 100ms")
}

func TestLastTimestamp(t *testing.T) {
	log := "2026-01-02T03:04:05.100000000Z first\n2026-01-02T03:04:06.250000000Z 1 passed in 0.01s\n\n"
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 6, 250000000, time.UTC), LastTimestamp([]byte(log)))
	assert.True(t, LastTimestamp([]byte("no timestamps\n")).IsZero())
}

func TestWriteTrivialProject(t *testing.T) {
	dir := t.TempDir()
	ids, err := WriteTrivialProject(dir, 30)
	require.NoError(t, err)
	require.Len(t, ids, 30)
	assert.Equal(t, "tests/test_trivial_000.py::test_0000", ids[0])
	assert.Equal(t, "tests/test_trivial_001.py::test_0029", ids[29])
	src, err := os.ReadFile(filepath.Join(dir, "tests", "test_trivial_001.py"))
	require.NoError(t, err)
	assert.Equal(t, 5, strings.Count(string(src), "def test_"))
	assert.Len(t, Cases(ids), 30)
}

func TestWriteLibraryProjectIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	require.NoError(t, WriteLibraryProject(a, 10, 4, 8<<10))
	require.NoError(t, WriteLibraryProject(b, 10, 4, 8<<10))
	x, err := os.ReadFile(filepath.Join(a, "app", "mod_003.py"))
	require.NoError(t, err)
	y, err := os.ReadFile(filepath.Join(b, "app", "mod_003.py"))
	require.NoError(t, err)
	assert.Equal(t, x, y)
	assert.GreaterOrEqual(t, len(x), 2<<10)
}

func TestParseFlags(t *testing.T) {
	o, names, err := parseFlags([]string{"-b1-p", "1, 4", "all"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 4}, o.B1P)
	assert.Equal(t, []string{"b1", "b1r", "b2", "b3", "b4", "b5", "b6", "b6a", "b6al", "b7", "f1"}, names)
	assert.Equal(t, 100, o.B1N)
	assert.Equal(t, 10000, o.B5N)
	assert.Equal(t, []int{4, 8}, o.RealP)
	assert.Equal(t, 200, o.RealN)
	assert.Empty(t, o.RealSelect)
	assert.Equal(t, 3, o.B6Rounds)
	assert.Equal(t, 4, o.B6Shards)
	assert.Equal(t, 2, o.B7Rounds)
	assert.Equal(t, "auto", o.B7Overlay)

	o, names, err = parseFlags([]string{"-real-p", "8", "-real-select", "tests/test_dict.py  tests/test_match.py", "b1r", "f1"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []int{8}, o.RealP)
	assert.Equal(t, []string{"tests/test_dict.py", "tests/test_match.py"}, o.RealSelect)
	assert.Equal(t, []string{"b1r", "f1"}, names)

	for _, bad := range [][]string{
		{},
		{"b9"},
		{"-b1-p", "0", "b1"},
		{"-b4-n", "0", "b4"},
		{"-sidecar", "maybe", "b1"},
		{"-real-p", "4,x", "b1r"},
		{"-b6-shards", "0", "b6"},
		{"-b6-rounds", "0", "b6"},
		{"-real-n", "-1", "b1r"},
		{"-b7-rounds", "0", "b7"},
		{"-b7-overlay", "kind", "b7"},
		{"-m1-pod-per", "shards", "m1"},
	} {
		_, _, err := parseFlags(bad, io.Discard)
		assert.Error(t, err, bad)
	}
}

func TestMainNeedsACluster(t *testing.T) {
	var out, errOut strings.Builder
	code := Main(t.Context(), []string{"b3"}, Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	assert.Equal(t, ExitError, code)
	assert.Contains(t, errOut.String(), "set KUBECONFIG, K8S_TESTRUN_REGISTRY, K8S_TESTRUN_BASE_IMAGE")
}

func TestTable(t *testing.T) {
	got := Table([]Figure{
		{ID: "B1", Name: "x", Value: "1.2", Target: "≤ 1.15", Pass: false, Took: 61 * time.Second},
		{ID: "B5", Name: "y", Value: "50 MB", Target: "≤ 100 MB", Pass: true},
	}, 2*time.Minute)
	assert.Contains(t, got, "| B1 | x | 1.2 | ≤ 1.15 | **miss** | 1m1s |")
	assert.Contains(t, got, "| B5 | y | 50 MB | ≤ 100 MB | pass | 0s |")
	assert.Contains(t, got, "total time: 2m0s")
}
