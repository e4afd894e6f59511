package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// RequestKey is how the API server's request counter is broken down here.
// Verb is the server's: GET, LIST, WATCH, POST, PUT, PATCH, DELETE, ...
type RequestKey struct {
	Verb, Resource, Subresource string
}

func (k RequestKey) String() string {
	r := k.Resource
	if k.Subresource != "" {
		r += "/" + k.Subresource
	}
	return k.Verb + " " + r
}

// RequestCounts are request totals by key.
type RequestCounts map[RequestKey]float64

// Sub returns a-b for every key of either.
func (a RequestCounts) Sub(b RequestCounts) RequestCounts {
	out := RequestCounts{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] -= v
	}
	return out
}

// Keys lists the keys, largest count first.
func (a RequestCounts) Keys() []RequestKey {
	keys := make([]RequestKey, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if a[keys[i]] != a[keys[j]] {
			return a[keys[i]] > a[keys[j]]
		}
		return keys[i].String() < keys[j].String()
	})
	return keys
}

// ParseRequestTotals sums apiserver_request_total from the API server's
// metrics text by verb, resource and subresource, over codes, groups,
// versions and scopes. Requests that name no resource (/healthz, /metrics)
// are left out.
func ParseRequestTotals(text []byte) (RequestCounts, error) {
	const name = "apiserver_request_total{"
	out := RequestCounts{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		end := strings.LastIndex(line, "}")
		if end < 0 {
			return nil, fmt.Errorf("metrics line %q: no closing brace", line)
		}
		labels, err := parseLabels(line[len(name):end])
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		if labels["resource"] == "" {
			continue
		}
		out[RequestKey{Verb: labels["verb"], Resource: labels["resource"], Subresource: labels["subresource"]}] += v
	}
	return out, sc.Err()
}

// parseLabels reads name="value",... with the exposition format's escapes.
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for len(s) > 0 {
		eq := strings.Index(s, "=")
		if eq < 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return nil, fmt.Errorf("bad label list %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			val.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, fmt.Errorf("unterminated value of %s", key)
		}
		out[key] = val.String()
		s = strings.TrimPrefix(s[i+1:], ",")
	}
	return out, nil
}

// Metrics is one reading of the API server's /metrics.
type Metrics struct {
	Requests RequestCounts
	// Dispatched counts the requests priority and fairness let through, by
	// flow schema.
	Dispatched map[string]float64
	// CPU is the API server's process_cpu_seconds_total; -1 when the text
	// has none.
	CPU float64
}

// ReadMetrics reads the API server's /metrics.
func ReadMetrics(ctx context.Context, client kubernetes.Interface) (Metrics, error) {
	raw, err := client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return Metrics{}, fmt.Errorf("reading the API server's /metrics (the benchmarks need a kubeconfig allowed to): %w", err)
	}
	return ParseMetrics(raw)
}

// ParseMetrics reads the request counters, the dispatched requests and the
// process's CPU (-1 when absent) from the API server's metrics text.
func ParseMetrics(raw []byte) (Metrics, error) {
	req, err := ParseRequestTotals(raw)
	if err != nil {
		return Metrics{}, err
	}
	cpu, err := ParseProcessCPU(raw)
	if err != nil {
		cpu = -1
	}
	return Metrics{Requests: req, Dispatched: ParseDispatched(raw), CPU: cpu}, nil
}

// ParseDispatched sums apiserver_flowcontrol_dispatched_requests_total by
// flow schema.
func ParseDispatched(text []byte) map[string]float64 {
	const name = "apiserver_flowcontrol_dispatched_requests_total{"
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		end := strings.LastIndex(line, "}")
		if !strings.HasPrefix(line, name) || end < 0 {
			continue
		}
		labels, err := parseLabels(line[len(name):end])
		if err != nil {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64); err == nil {
			out[labels["flow_schema"]] += v
		}
	}
	return out
}

// RequestCounter counts a client's own requests by phase and key, as the
// API server would label them.
type RequestCounter struct {
	mu     sync.Mutex
	phase  string
	counts map[string]RequestCounts
}

// NewCountingClient returns a client whose every request is counted.
func NewCountingClient(cfg *rest.Config) (kubernetes.Interface, *RequestCounter, error) {
	c := &RequestCounter{counts: map[string]RequestCounts{}}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			c.count(req)
			return rt.RoundTrip(req)
		})
	})
	client, err := kubernetes.NewForConfig(cfg)
	return client, c, err
}

// SetPhase files the requests that follow under phase.
func (c *RequestCounter) SetPhase(phase string) {
	c.mu.Lock()
	c.phase = phase
	c.mu.Unlock()
}

// Phase returns the counts filed under phase.
func (c *RequestCounter) Phase(phase string) RequestCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := RequestCounts{}
	for k, v := range c.counts[phase] {
		out[k] = v
	}
	return out
}

func (c *RequestCounter) count(req *http.Request) {
	k, ok := ClassifyRequest(req.Method, req.URL)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts[c.phase] == nil {
		c.counts[c.phase] = RequestCounts{}
	}
	c.counts[c.phase][k]++
}

// WatchListVerb labels a watch that asks for the initial state as events
// (client-go's watch-list); the API server counts it as a WATCH.
const WatchListVerb = "WATCH(list)"

// ClassifyRequest labels a request to a core or group resource path the
// way the API server's request metrics do.
func ClassifyRequest(method string, u *url.URL) (RequestKey, bool) {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return RequestKey{}, false
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) != 2 {
		parts = parts[2:]
	}
	if len(parts) == 0 {
		return RequestKey{}, false
	}
	k := RequestKey{Resource: parts[0]}
	named := len(parts) >= 2
	if len(parts) >= 3 {
		k.Subresource = parts[2]
	}
	q := u.Query()
	switch method {
	case http.MethodGet:
		switch {
		case q.Get("sendInitialEvents") == "true":
			k.Verb = WatchListVerb
		case q.Get("watch") == "true" || q.Get("watch") == "1":
			k.Verb = "WATCH"
		case k.Subresource == "log":
			// Logs stream through a connecter.
			k.Verb = "CONNECT"
		case named:
			k.Verb = "GET"
		default:
			k.Verb = "LIST"
		}
	default:
		k.Verb = method
	}
	return k, true
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
