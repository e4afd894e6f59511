package apicov

import (
	"bytes"
	"hash/maphash"
	"strings"
	"time"
)

// Pod is one pod of the run, as the runner knows it.
type Pod struct {
	Namespace string
	Name      string
	// UID, when known, must match the event's; a pod of the same name in
	// another run (or recreated) is someone else's.
	UID string
	// Unit names what the pod ran: the test id for a pod of one test, or
	// the unit (file, class, shard) of a grouped pod.
	Unit string
	// Tests are the test ids the pod ran; more than one for a grouped pod.
	Tests []string
}

// maxOpenWatches bounds the watches remembered between their
// ResponseStarted and ResponseComplete events. Each is kept as a hash of
// its audit ID, which a client may choose (the Audit-ID header): a test's
// long IDs cost no more than short ones.
const maxOpenWatches = 1 << 16

// maxUnmatched bounds the distinct unmatched request paths kept as
// examples; the rest are only counted.
const maxUnmatched = 20

// Collector attributes audit events to the run's pods and maps them onto
// the universe.
type Collector struct {
	u        *Universe
	from, to time.Time
	pods     map[podKey]*unitHits
	units    []*unitHits
	watches  map[uint64]bool
	seed     maphash.Seed
	names    map[string]bool

	// Counted is the number of requests attributed to a pod of the run.
	Counted int64
	// OutsideWindow, OtherPods and Denied count events left out: before
	// or after the run, from pods not the run's, refused by
	// authentication or authorization (401, 403: no endpoint served them).
	OutsideWindow, OtherPods, Denied int64
	// Unmatched counts the run's requests whose path and verb no endpoint
	// of the universe has; UnmatchedExamples keeps a few of them.
	Unmatched         int64
	UnmatchedExamples []string
}

type podKey struct{ namespace, name string }

// unitHits is what one pod's unit hit.
type unitHits struct {
	pods  []Pod
	uids  map[string]bool
	hits  map[int]int64
	index int
}

// NewCollector counts the events of the given pods between from and to.
// Pods that ran the same unit (retries) count together.
func NewCollector(u *Universe, from, to time.Time, pods []Pod) *Collector {
	c := &Collector{u: u, from: from, to: to, pods: map[podKey]*unitHits{}, watches: map[uint64]bool{}, seed: maphash.MakeSeed(), names: map[string]bool{}}
	byUnit := map[string]*unitHits{}
	for _, p := range pods {
		h := byUnit[p.Unit]
		if h == nil {
			h = &unitHits{uids: map[string]bool{}, hits: map[int]int64{}, index: len(c.units)}
			byUnit[p.Unit] = h
			c.units = append(c.units, h)
		}
		h.pods = append(h.pods, p)
		if p.UID != "" {
			h.uids[p.UID] = true
		}
		c.pods[podKey{p.Namespace, p.Name}] = h
		c.names[p.Name] = true
	}
	return c
}

// namespaceOf is the namespace of a service account's user name,
// system:serviceaccount:NAMESPACE:NAME.
func namespaceOf(username string) string {
	rest, ok := strings.CutPrefix(username, "system:serviceaccount:")
	if !ok {
		return ""
	}
	ns, _, _ := strings.Cut(rest, ":")
	return ns
}

// Add counts one event.
func (c *Collector) Add(e Event) {
	if e.PodName == "" {
		return
	}
	h := c.pods[podKey{namespaceOf(e.Username), e.PodName}]
	if h == nil {
		c.OtherPods++
		return
	}
	if e.PodUID != "" && len(h.uids) > 0 && !h.uids[e.PodUID] {
		c.OtherPods++
		return
	}
	if (!c.from.IsZero() && e.Received.Before(c.from)) || (!c.to.IsZero() && e.Received.After(c.to)) {
		c.OutsideWindow++
		return
	}
	if !c.once(e) {
		return
	}
	if e.Code == 401 || e.Code == 403 {
		c.Denied++
		return
	}
	c.Counted++
	i, ok := c.u.Match(e.Verb, e.RequestURI)
	if !ok {
		c.Unmatched++
		if len(c.UnmatchedExamples) < maxUnmatched {
			ex := methodOf(e.Verb) + " " + truncate(pathOf(e.RequestURI), 200)
			if !contains(c.UnmatchedExamples, ex) {
				c.UnmatchedExamples = append(c.UnmatchedExamples, ex)
			}
		}
		return
	}
	h.hits[i]++
}

// once reports whether the event is the one that counts for its request:
// ResponseComplete (or Panic), except for a watch, which counts when it
// starts, ResponseComplete only when its start was not logged.
func (c *Collector) once(e Event) bool {
	switch e.Stage {
	case "ResponseStarted":
		if e.Verb != "watch" {
			return false
		}
		if e.AuditID != "" && len(c.watches) < maxOpenWatches {
			c.watches[maphash.String(c.seed, e.AuditID)] = true
		}
		return true
	case "ResponseComplete", "Panic":
		if e.Verb == "watch" && e.AuditID != "" && c.watches[maphash.String(c.seed, e.AuditID)] {
			delete(c.watches, maphash.String(c.seed, e.AuditID))
			return false
		}
		return true
	}
	return false
}

func pathOf(uri string) string {
	p, _, _ := strings.Cut(uri, "?")
	return p
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Keep refuses, without decoding, a line whose pod name is none of the
// run's; for ReadEvents.
func (c *Collector) Keep(line []byte) bool {
	name, ok := podNameOf(line)
	if !ok {
		return true // the decoder judges it
	}
	if c.names[string(name)] {
		return true
	}
	c.OtherPods++
	return false
}

// podNameOf finds the pod name in a line holding podMarker:
// "authentication.kubernetes.io/pod-name":["NAME"]. ok is false when the
// line is not in that plain form.
func podNameOf(line []byte) (name []byte, ok bool) {
	i := bytes.Index(line, podMarker)
	if i < 0 {
		return nil, false
	}
	rest := bytes.TrimLeft(line[i+len(podMarker):], " ")
	rest, ok = bytes.CutPrefix(rest, []byte(`:`))
	if !ok {
		return nil, false
	}
	rest, ok = bytes.CutPrefix(bytes.TrimLeft(rest, " "), []byte(`["`))
	if !ok {
		return nil, false
	}
	j := bytes.IndexAny(rest, `"\`)
	if j < 0 || rest[j] != '"' {
		return nil, false
	}
	return rest[:j], true
}
