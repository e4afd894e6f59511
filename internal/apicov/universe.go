// Package apicov measures which Kubernetes API endpoints each test
// exercised. The endpoints are the cluster's own OpenAPI operations (VERB
// plus templated path); the requests are the API server's audit events,
// read as a stream; each event is mapped onto an endpoint and attributed
// to the test whose pod made it, by the pod name and UID that a bound
// service-account token puts into the event's user.extra.
package apicov

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Endpoint is one operation of the API: an HTTP method on a templated
// path, as the OpenAPI document lists it.
type Endpoint struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Action is the operation's x-kubernetes-action (get, list, watch,
	// watchlist, create, update, patch, delete, deletecollection, connect),
	// empty for non-resource paths.
	Action string `json:"action,omitempty"`
	// Operation is the OpenAPI operationId.
	Operation string `json:"operation,omitempty"`
	// GroupVersion is the OpenAPI document the endpoint comes from:
	// core/v1, apps/v1, ..., or the non-resource path's name.
	GroupVersion string `json:"groupVersion"`
}

// Key is how the report names the endpoint: "GET /api/v1/namespaces".
func (e Endpoint) Key() string { return e.Method + " " + e.Path }

// stableVersion is a version with no alpha or beta in it.
var stableVersion = regexp.MustCompile(`(^|/)v[0-9]+$`)

// Stable reports whether the endpoint is of a GA API version.
func (e Endpoint) Stable() bool { return stableVersion.MatchString(e.GroupVersion) }

// methods are the OpenAPI path item's operation keys.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch"}

// pathItem holds only what is read of an OpenAPI path item: the operations.
type operation struct {
	OperationID string `json:"operationId"`
	Action      string `json:"x-kubernetes-action"`
}

// ParseDocument reads the endpoints of one OpenAPI document (v3, or the v2
// swagger document, whose "paths" have the same shape), under the name
// groupVersion.
func ParseDocument(groupVersion string, data []byte) ([]Endpoint, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decoding OpenAPI document %s: %w", groupVersion, err)
	}
	var out []Endpoint
	for path, item := range doc.Paths {
		for _, m := range methods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("decoding OpenAPI document %s: %s %s: %w", groupVersion, m, path, err)
			}
			out = append(out, Endpoint{Method: strings.ToUpper(m), Path: path, Action: op.Action, Operation: op.OperationID, GroupVersion: groupVersion})
		}
	}
	return out, nil
}

// GroupVersionName names an OpenAPI v3 document by its discovery path:
// api/v1 is core/v1, apis/apps/v1 is apps/v1, anything else keeps its path.
func GroupVersionName(docPath string) string {
	switch {
	case docPath == "api/v1":
		return "core/v1"
	case strings.HasPrefix(docPath, "apis/") && strings.Count(docPath, "/") == 2:
		return strings.TrimPrefix(docPath, "apis/")
	}
	return docPath
}

// Universe is every endpoint of a cluster, with a matcher from request
// paths onto them.
type Universe struct {
	Endpoints []Endpoint
	root      *node
}

// node is one path segment of the matcher's tree.
type node struct {
	literal map[string]*node
	param   *node
	// rest is a trailing {path} parameter (proxy), which takes every
	// remaining segment.
	rest *node
	// ops are the endpoints (indexes into Endpoints) whose path ends here.
	ops []int
}

func newNode() *node { return &node{literal: map[string]*node{}} }

// NewUniverse indexes endpoints; duplicates (one path listed by two
// documents) are kept once.
func NewUniverse(eps []Endpoint) *Universe {
	eps = slices.Clone(eps)
	slices.SortFunc(eps, func(a, b Endpoint) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Method, b.Method), strings.Compare(a.GroupVersion, b.GroupVersion))
	})
	eps = slices.CompactFunc(eps, func(a, b Endpoint) bool { return a.Key() == b.Key() })
	u := &Universe{Endpoints: eps, root: newNode()}
	for i, e := range eps {
		n := u.root
		segs := splitPath(e.Path)
		for j, s := range segs {
			switch {
			case isParam(s) && j == len(segs)-1 && s == "{path}":
				if n.rest == nil {
					n.rest = newNode()
				}
				n = n.rest
			case isParam(s):
				if n.param == nil {
					n.param = newNode()
				}
				n = n.param
			default:
				c := n.literal[s]
				if c == nil {
					c = newNode()
					n.literal[s] = c
				}
				n = c
			}
		}
		n.ops = append(n.ops, i)
	}
	return u
}

func isParam(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// lookup finds the endpoints of the most specific template that matches
// segs: a literal segment wins over a parameter, a parameter over a
// trailing {path}.
func (n *node) lookup(segs []string) []int {
	if len(segs) == 0 {
		if len(n.ops) > 0 {
			return n.ops
		}
		if n.rest != nil {
			return n.rest.ops
		}
		return nil
	}
	if c := n.literal[segs[0]]; c != nil {
		if ops := c.lookup(segs[1:]); ops != nil {
			return ops
		}
	}
	if n.param != nil && segs[0] != "" {
		if ops := n.param.lookup(segs[1:]); ops != nil {
			return ops
		}
	}
	if n.rest != nil {
		return n.rest.ops
	}
	return nil
}

// Size is the number of endpoints.
func (u *Universe) Size() int { return len(u.Endpoints) }
