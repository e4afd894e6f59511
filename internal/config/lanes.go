package config

import (
	"regexp"
	"slices"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// markerName is what pytest takes as a marker name: a Python identifier.
var markerName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseLanes reads --lane mappings, POLICY=MARKER[,MARKER...], into the
// markers of each policy; policies not mapped keep the marker of their own
// name. A policy mapped twice takes the markers of both.
func ParseLanes(mappings []string) (map[string][]string, error) {
	lanes := plan.DefaultLaneMarkers()
	mapped := map[string]bool{}
	for _, m := range mappings {
		policy, list, ok := strings.Cut(m, "=")
		policy = strings.TrimSpace(policy)
		if !ok {
			return nil, &Error{Input: "lane", Value: m, Fix: "give POLICY=MARKER[,MARKER...], e.g. serial=serial,db_migration"}
		}
		if !slices.Contains(plan.LanePolicies, policy) {
			return nil, &Error{Input: "lane", Value: m, Fix: "unknown policy " + quote(policy) + "; use serial, slow, flaky or disruptive"}
		}
		var names []string
		for _, n := range strings.Split(list, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if !markerName.MatchString(n) {
				return nil, &Error{Input: "lane", Value: m, Fix: "marker " + quote(n) + " is not a pytest marker name; give Python identifiers, e.g. serial=serial,db_migration"}
			}
			names = append(names, n)
		}
		if len(names) == 0 {
			return nil, &Error{Input: "lane", Value: m, Fix: "no marker for " + policy + "; give at least one, e.g. " + policy + "=" + policy}
		}
		if !mapped[policy] {
			lanes[policy] = nil
			mapped[policy] = true
		}
		for _, n := range names {
			if !slices.Contains(lanes[policy], n) {
				lanes[policy] = append(lanes[policy], n)
			}
		}
	}
	return lanes, nil
}

func quote(s string) string { return `"` + s + `"` }
