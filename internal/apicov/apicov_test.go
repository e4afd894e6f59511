package apicov

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
)

// The fixtures are real: testdata/universe-local.jsonl is every endpoint
// the local cluster's OpenAPI v3 lists (FetchUniverse's output, 796 of
// them), testdata/audit-local.jsonl the audit log's lines of a namespace
// in which three pods (caller2, caller3, caller4) of the service account
// caller called the API with Debian's python3-kubernetes, together with
// the lines of the kubelet, the scheduler, the controllers and an admin
// about that namespace.

const (
	fixtureNS  = "apicov-fixture"
	caller2UID = "18befda5-1000-4701-bb0a-87b394c9cded"
	caller3UID = "126e6859-9515-4412-bcf5-9ee98be408a9"
	caller4UID = "19110ec0-58ac-400e-8301-8fd8a59a26c2"
)

func loadUniverse(t *testing.T) *Universe {
	t.Helper()
	f, err := os.Open("testdata/universe-local.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var eps []Endpoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Endpoint
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		eps = append(eps, e)
	}
	require.NoError(t, sc.Err())
	return NewUniverse(eps)
}

// allEvents decodes every line of the audit fixture, pod-bound or not.
func allEvents(t *testing.T) []Event {
	t.Helper()
	b, err := os.ReadFile("testdata/audit-local.jsonl")
	require.NoError(t, err)
	var out []Event
	var p fastjson.Parser
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		e, err := decodeEvent(&p, []byte(line))
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func TestUniverseSize(t *testing.T) {
	assert.Equal(t, 796, loadUniverse(t).Size())
}

// Each request the python3-kubernetes pods made, mapped by hand onto the
// OpenAPI's path templates.
func TestMatchRealAuditLines(t *testing.T) {
	u := loadUniverse(t)
	want := map[string]string{
		"list /api/v1/namespaces/apicov-fixture/pods":                                                                    "GET /api/v1/namespaces/{namespace}/pods",
		"get /api/v1/namespaces/apicov-fixture":                                                                          "GET /api/v1/namespaces/{name}",
		"create /api/v1/namespaces/apicov-fixture/configmaps":                                                            "POST /api/v1/namespaces/{namespace}/configmaps",
		"get /api/v1/namespaces/apicov-fixture/configmaps/fx":                                                            "GET /api/v1/namespaces/{namespace}/configmaps/{name}",
		"patch /api/v1/namespaces/apicov-fixture/configmaps/fx":                                                          "PATCH /api/v1/namespaces/{namespace}/configmaps/{name}",
		"update /api/v1/namespaces/apicov-fixture/configmaps/fx":                                                         "PUT /api/v1/namespaces/{namespace}/configmaps/{name}",
		"delete /api/v1/namespaces/apicov-fixture/configmaps/fx":                                                         "DELETE /api/v1/namespaces/{namespace}/configmaps/{name}",
		"deletecollection /api/v1/namespaces/apicov-fixture/configmaps?labelSelector=none%3Dnone":                        "DELETE /api/v1/namespaces/{namespace}/configmaps",
		"watch /api/v1/namespaces/apicov-fixture/pods?timeoutSeconds=1&watch=True":                                       "GET /api/v1/watch/namespaces/{namespace}/pods",
		"watch /api/v1/namespaces/apicov-fixture/pods?fieldSelector=metadata.name%3Dnothing&timeoutSeconds=1&watch=True": "GET /api/v1/watch/namespaces/{namespace}/pods",
		"watch /api/v1/watch/namespaces/apicov-fixture/configmaps?timeoutSeconds=1":                                      "GET /api/v1/watch/namespaces/{namespace}/configmaps",
		"list /apis/apps/v1/namespaces/apicov-fixture/deployments":                                                       "GET /apis/apps/v1/namespaces/{namespace}/deployments",
		"list /api/v1/namespaces/apicov-fixture/secrets":                                                                 "GET /api/v1/namespaces/{namespace}/secrets",
		"get /api/v1/namespaces/apicov-fixture/pods/caller4/status":                                                      "GET /api/v1/namespaces/{namespace}/pods/{name}/status",
		"get /api/v1/namespaces/apicov-fixture/pods/caller3/log":                                                         "GET /api/v1/namespaces/{namespace}/pods/{name}/log",
		"get /version/": "GET /version/",
		"get /api/":     "GET /api/",
		"get /apis/":    "GET /apis/",
	}
	seen := map[string]bool{}
	for _, e := range allEvents(t) {
		if e.PodName != "caller3" && e.PodName != "caller4" {
			continue
		}
		k := e.Verb + " " + e.RequestURI
		exp, ok := want[k]
		require.True(t, ok, "no expectation for %s", k)
		i, ok := u.Match(e.Verb, e.RequestURI)
		require.True(t, ok, k)
		assert.Equal(t, exp, u.Endpoints[i].Key(), k)
		seen[k] = true
	}
	assert.Len(t, seen, len(want), "every expectation is a line of the fixture")
}

// Every request in the fixture, the kubelet's, the scheduler's and the
// controllers' included, is an endpoint of the universe.
func TestEveryFixtureLineMatches(t *testing.T) {
	u := loadUniverse(t)
	events := allEvents(t)
	require.Len(t, events, 200)
	for _, e := range events {
		_, ok := u.Match(e.Verb, e.RequestURI)
		assert.True(t, ok, "%s %s", e.Verb, e.RequestURI)
	}
}

func TestMatchPrefersLiteralsAndTellsWatchFromList(t *testing.T) {
	u := loadUniverse(t)
	for _, c := range []struct{ verb, uri, want string }{
		{"list", "/api/v1/pods", "GET /api/v1/pods"},
		{"watch", "/api/v1/pods?watch=1", "GET /api/v1/watch/pods"},
		{"get", "/api/v1/namespaces/default/pods/p", "GET /api/v1/namespaces/{namespace}/pods/{name}"},
		{"watch", "/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3Dp", "GET /api/v1/watch/namespaces/{namespace}/pods"},
		{"watch", "/api/v1/watch/namespaces/default/pods/p", "GET /api/v1/watch/namespaces/{namespace}/pods/{name}"},
		{"list", "/api/v1/namespaces", "GET /api/v1/namespaces"},
		{"update", "/api/v1/namespaces/ns/finalize", "PUT /api/v1/namespaces/{name}/finalize"},
		{"get", "/api/v1/namespaces/ns/pods/p/proxy/a/b/c", "GET /api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}"},
		{"create", "/api/v1/namespaces/ns/pods/p/exec?command=ls", "POST /api/v1/namespaces/{namespace}/pods/{name}/exec"},
		{"create", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews"},
	} {
		i, ok := u.Match(c.verb, c.uri)
		if assert.True(t, ok, c.uri) {
			assert.Equal(t, c.want, u.Endpoints[i].Key(), c.uri)
		}
	}
	for _, c := range []struct{ verb, uri string }{
		{"get", "/apis/example.com/v1/widgets"},
		{"create", "/version"},
		{"get", "/api/v1/namespaces/ns/pods/p/nosuchsubresource"},
	} {
		_, ok := u.Match(c.verb, c.uri)
		assert.False(t, ok, c.uri)
	}
}

func fixturePods() []Pod {
	return []Pod{
		{Namespace: fixtureNS, Name: "caller3", UID: caller3UID, Unit: "t3", Tests: []string{"t3"}},
		{Namespace: fixtureNS, Name: "caller4", UID: caller4UID, Unit: "t4", Tests: []string{"t4"}},
	}
}

func collect(t *testing.T, c *Collector) ReadStats {
	t.Helper()
	f, err := os.Open("testdata/audit-local.jsonl")
	require.NoError(t, err)
	defer f.Close()
	st, err := ReadEvents(f, c.Keep, c.Add)
	require.NoError(t, err)
	return st
}

func keys(tc TestCoverage) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range tc.Endpoints {
			if !yield(k) {
				return
			}
		}
	})
}

func TestCollectorAttributesToEachPod(t *testing.T) {
	u := loadUniverse(t)
	c := NewCollector(u, time.Time{}, time.Time{}, fixturePods())
	st := collect(t, c)
	assert.EqualValues(t, 200, st.Lines)
	assert.EqualValues(t, 11, c.OtherPods, "caller2 is not the run's")
	assert.EqualValues(t, 1, c.Denied, "the 403 on secrets")
	assert.Zero(t, c.Unmatched)
	r := c.Report("fixture", st)
	require.Len(t, r.Tests, 2)
	t3, ok := r.Of("t3")
	require.True(t, ok)
	assert.Equal(t, []string{
		"DELETE /api/v1/namespaces/{namespace}/configmaps",
		"DELETE /api/v1/namespaces/{namespace}/configmaps/{name}",
		"GET /api/v1/namespaces/{namespace}/configmaps/{name}",
		"GET /api/v1/namespaces/{namespace}/pods",
		"GET /api/v1/namespaces/{name}",
		"GET /api/v1/watch/namespaces/{namespace}/pods",
		"GET /apis/apps/v1/namespaces/{namespace}/deployments",
		"GET /version/",
		"PATCH /api/v1/namespaces/{namespace}/configmaps/{name}",
		"POST /api/v1/namespaces/{namespace}/configmaps",
		"PUT /api/v1/namespaces/{namespace}/configmaps/{name}",
	}, keys(t3))
	assert.EqualValues(t, 2, t3.Endpoints["GET /api/v1/namespaces/{namespace}/configmaps/{name}"])
	assert.EqualValues(t, 2, t3.Endpoints["GET /api/v1/watch/namespaces/{namespace}/pods"], "two watches, each counted once though logged twice")
	assert.False(t, t3.Grouped)
	t4, _ := r.Of("t4")
	assert.Equal(t, []string{
		"GET /api/",
		"GET /api/v1/namespaces/{namespace}/pods/{name}/log",
		"GET /api/v1/namespaces/{namespace}/pods/{name}/status",
		"GET /api/v1/watch/namespaces/{namespace}/configmaps",
		"GET /apis/",
	}, keys(t4))
	assert.EqualValues(t, 1, t4.Endpoints["GET /api/v1/namespaces/{namespace}/pods/{name}/log"], "a log read is logged as started and complete, counted once")
	assert.Equal(t, 16, r.Hit)
	assert.Equal(t, 796, r.Universe)
	assert.Equal(t, "2.0%", r.Percent())
	for _, e := range r.Endpoints {
		if e.Key == "GET /api/v1/namespaces/{namespace}/pods" {
			assert.Equal(t, []string{"t3"}, e.Tests)
			assert.EqualValues(t, 1, e.Hits)
		}
	}
}

func TestCollectorChecksUIDAndWindow(t *testing.T) {
	u := loadUniverse(t)
	pods := fixturePods()
	pods[0].UID = caller2UID // a pod of caller3's name, but another one
	to := time.Date(2026, 12, 7, 0, 23, 0, 0, time.UTC)
	c := NewCollector(u, time.Time{}, to, pods)
	collect(t, c)
	r := c.Report("fixture", ReadStats{})
	assert.Zero(t, r.Hit)
	assert.EqualValues(t, 11+16, c.OtherPods, "caller2's events, and caller3's, whose UID is not the run's pod's")
	assert.EqualValues(t, 7, c.OutsideWindow, "caller4 ran after the window")
}

func TestCollectorGroupedPodCountsForTheUnit(t *testing.T) {
	u := loadUniverse(t)
	pods := []Pod{{Namespace: fixtureNS, Name: "caller4", UID: caller4UID, Unit: "tests/test_a.py", Tests: []string{"a::x", "a::y"}}}
	c := NewCollector(u, time.Time{}, time.Time{}, pods)
	r := c.Report("fixture", collect(t, c))
	require.Len(t, r.Tests, 2)
	for _, tc := range r.Tests {
		assert.True(t, tc.Grouped)
		assert.Equal(t, []string{"tests/test_a.py"}, tc.Units)
		assert.Len(t, tc.Endpoints, 5)
	}
}

func TestReadEventsBoundsLines(t *testing.T) {
	long := `{"user":{"extra":{"authentication.kubernetes.io/pod-name":["p"]}},"requestURI":"/` + strings.Repeat("a", MaxLine) + "\"}\n"
	good := `{"stage":"ResponseComplete","verb":"get","requestURI":"/api/","user":{"username":"system:serviceaccount:n:s","extra":{"authentication.kubernetes.io/pod-name":["p"],"authentication.kubernetes.io/pod-uid":["u"]}}}` + "\n"
	in := good + long + "not json \"authentication.kubernetes.io/pod-name\"\n" + `{"verb":"get"}` + "\n" + strings.TrimSuffix(good, "\n")
	var got []Event
	st, err := ReadEvents(strings.NewReader(in), nil, func(e Event) { got = append(got, e) })
	require.NoError(t, err)
	assert.EqualValues(t, 5, st.Lines)
	assert.EqualValues(t, 1, st.TooLong)
	assert.EqualValues(t, 1, st.Malformed)
	assert.EqualValues(t, 1, st.Ignored)
	assert.EqualValues(t, len(in), st.Bytes)
	require.Len(t, got, 2)
	assert.Equal(t, Event{Stage: "ResponseComplete", Verb: "get", RequestURI: "/api/", Username: "system:serviceaccount:n:s", PodName: "p", PodUID: "u"}, got[1])
}

func TestKeepReadsThePodNameWithoutDecoding(t *testing.T) {
	c := NewCollector(NewUniverse(nil), time.Time{}, time.Time{}, []Pod{{Namespace: "n", Name: "p1", Unit: "x"}})
	assert.True(t, c.Keep([]byte(`{"extra":{"authentication.kubernetes.io/pod-name":["p1"]}}`)))
	assert.False(t, c.Keep([]byte(`{"extra":{"authentication.kubernetes.io/pod-name":["p2"]}}`)))
	assert.False(t, c.Keep([]byte(`{"extra":{"authentication.kubernetes.io/pod-name":["p10"]}}`)))
	assert.True(t, c.Keep([]byte(`{"extra":{"authentication.kubernetes.io/pod-name":["p\u0031"]}}`)), "an escaped name is left to the decoder")
}

func TestParseDocumentAndNames(t *testing.T) {
	doc := `{"paths":{"/apis/apps/v1/namespaces/{namespace}/deployments":{"parameters":[{"name":"namespace"}],
	"get":{"operationId":"listAppsV1NamespacedDeployment","x-kubernetes-action":"list"},
	"post":{"operationId":"createAppsV1NamespacedDeployment","x-kubernetes-action":"post"}}}}`
	eps, err := ParseDocument("apps/v1", []byte(doc))
	require.NoError(t, err)
	slices.SortFunc(eps, func(a, b Endpoint) int { return strings.Compare(a.Method, b.Method) })
	assert.Equal(t, []Endpoint{
		{Method: "GET", Path: "/apis/apps/v1/namespaces/{namespace}/deployments", Action: "list", Operation: "listAppsV1NamespacedDeployment", GroupVersion: "apps/v1"},
		{Method: "POST", Path: "/apis/apps/v1/namespaces/{namespace}/deployments", Action: "post", Operation: "createAppsV1NamespacedDeployment", GroupVersion: "apps/v1"},
	}, eps)
	_, err = ParseDocument("x", []byte(`{"paths":[]}`))
	assert.Error(t, err)
	assert.Equal(t, "core/v1", GroupVersionName("api/v1"))
	assert.Equal(t, "apps/v1", GroupVersionName("apis/apps/v1"))
	assert.Equal(t, "apis/apps", GroupVersionName("apis/apps"))
	assert.Equal(t, "version", GroupVersionName("version"))
	assert.True(t, Endpoint{GroupVersion: "autoscaling/v2"}.Stable())
	assert.True(t, Endpoint{GroupVersion: "core/v1"}.Stable())
	assert.False(t, Endpoint{GroupVersion: "resource.k8s.io/v1beta2"}.Stable())
	assert.False(t, Endpoint{GroupVersion: "version"}.Stable())
	assert.Equal(t, "core/v1", groupVersionOfPath("/api/v1/pods"))
	assert.Equal(t, "apps/v1", groupVersionOfPath("/apis/apps/v1/deployments"))
	assert.Equal(t, "apis/apps", groupVersionOfPath("/apis/apps/"))
}

// A test's retries, each in a pod of its own, count together.
func TestCollectorMergesRetries(t *testing.T) {
	u := loadUniverse(t)
	pods := fixturePods()
	for i := range pods {
		pods[i].Unit, pods[i].Tests = "t", []string{"t"}
	}
	c := NewCollector(u, time.Time{}, time.Time{}, pods)
	r := c.Report("fixture", collect(t, c))
	require.Len(t, r.Tests, 1)
	assert.Len(t, r.Tests[0].Endpoints, 16)
	assert.False(t, r.Tests[0].Grouped)
	assert.Equal(t, []string{"caller3", "caller4"}, r.Tests[0].Pods)
}

// A real line decodes into every field the collector uses.
func TestDecodeRealLine(t *testing.T) {
	var got Event
	for _, e := range allEvents(t) {
		if e.PodName == "caller3" && e.Verb == "create" {
			got = e
		}
	}
	assert.Equal(t, "ResponseComplete", got.Stage)
	assert.Equal(t, "/api/v1/namespaces/apicov-fixture/configmaps", got.RequestURI)
	assert.Equal(t, "system:serviceaccount:apicov-fixture:caller", got.Username)
	assert.Equal(t, caller3UID, got.PodUID)
	assert.Equal(t, 201, got.Code)
	assert.NotEmpty(t, got.AuditID)
	assert.Equal(t, 2026, got.Received.Year())
	var p fastjson.Parser
	_, err := decodeEvent(&p, []byte(`{"requestReceivedTimestamp":"yesterday"}`))
	assert.Error(t, err, "a timestamp that is not one")
	_, err = decodeEvent(&p, []byte(`["authentication.kubernetes.io/pod-name"]`))
	assert.Error(t, err, "not an object")
}

// Open watches are remembered by a hash of their audit ID, which a client
// chooses, and at most maxOpenWatches of them.
func TestOpenWatchesAreBounded(t *testing.T) {
	u := loadUniverse(t)
	c := NewCollector(u, time.Time{}, time.Time{}, fixturePods())
	long := strings.Repeat("x", 4096)
	for i := range maxOpenWatches + 10 {
		c.Add(Event{AuditID: long + strconv.Itoa(i), Stage: "ResponseStarted", Verb: "watch", RequestURI: "/api/v1/namespaces/n/pods?watch=1",
			Username: "system:serviceaccount:" + fixtureNS + ":caller", PodName: "caller3", PodUID: caller3UID, Code: 200})
	}
	assert.Len(t, c.watches, maxOpenWatches)
	assert.EqualValues(t, maxOpenWatches+10, c.Counted)
	c.Add(Event{AuditID: long + "0", Stage: "ResponseComplete", Verb: "watch", RequestURI: "/api/v1/namespaces/n/pods?watch=1",
		Username: "system:serviceaccount:" + fixtureNS + ":caller", PodName: "caller3", PodUID: caller3UID, Code: 200})
	assert.EqualValues(t, maxOpenWatches+10, c.Counted, "its end is the same watch")
	assert.Len(t, c.watches, maxOpenWatches-1)
}
