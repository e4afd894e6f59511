package apicov

import "strings"

// methodOf is the HTTP method of an audit event's verb. Resource requests
// carry the API's verbs; non-resource requests the lowercase HTTP method.
func methodOf(verb string) string {
	switch verb {
	case "get", "list", "watch":
		return "GET"
	case "create":
		return "POST"
	case "update":
		return "PUT"
	case "patch":
		return "PATCH"
	case "delete", "deletecollection":
		return "DELETE"
	}
	return strings.ToUpper(verb)
}

// Match maps an audit event's verb and request URI onto the universe: the
// index of the endpoint, or false when no endpoint has that path and
// method. A watch (GET with ?watch=true, which the audit log records as
// verb watch) maps onto the endpoint the OpenAPI lists for watching, under
// the .../watch/... path, as the API distinguishes it from a list.
func (u *Universe) Match(verb, requestURI string) (int, bool) {
	p, _, _ := strings.Cut(requestURI, "?")
	segs := splitPath(p)
	method := methodOf(verb)
	if verb == "watch" && !isWatchPath(segs) {
		if w := watchPath(segs); w != nil {
			if i, ok := u.pick(w, method); ok {
				return i, true
			}
		}
	}
	return u.pick(segs, method)
}

func (u *Universe) pick(segs []string, method string) (int, bool) {
	for _, i := range u.root.lookup(segs) {
		if u.Endpoints[i].Method == method {
			return i, true
		}
	}
	return 0, false
}

// versionPrefix is the length of a resource path's group-version prefix:
// 2 for api/v1, 3 for apis/GROUP/VERSION, 0 for anything else.
func versionPrefix(segs []string) int {
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		return 2
	case len(segs) >= 3 && segs[0] == "apis":
		return 3
	}
	return 0
}

// isWatchPath reports a deprecated .../watch/... path.
func isWatchPath(segs []string) bool {
	n := versionPrefix(segs)
	return n > 0 && len(segs) > n && segs[n] == "watch"
}

// watchPath is the .../watch/... form of a resource path, nil for a
// non-resource one.
func watchPath(segs []string) []string {
	n := versionPrefix(segs)
	if n == 0 || len(segs) == n {
		return nil
	}
	w := make([]string, 0, len(segs)+1)
	w = append(w, segs[:n]...)
	w = append(w, "watch")
	return append(w, segs[n:]...)
}
