package apicov

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// openAPIServer serves the given paths as JSON, and 404 for the rest.
func openAPIServer(t *testing.T, docs map[string]string) discovery.DiscoveryInterface {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	d, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	return d
}

// TestFetchUniverseFromV3: the v3 documents, each named by its group
// version, are the universe.
func TestFetchUniverseFromV3(t *testing.T) {
	d := openAPIServer(t, map[string]string{
		"/openapi/v3": `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=A"}, "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=B"}}}`,
		"/openapi/v3/api/v1": `{"paths": {"/api/v1/namespaces/{namespace}/pods": {"get": {"operationId": "listCoreV1NamespacedPod", "x-kubernetes-action": "list"},
			"post": {"operationId": "createCoreV1NamespacedPod"}, "parameters": []}}}`,
		"/openapi/v3/apis/apps/v1": `{"paths": {"/apis/apps/v1/namespaces/{namespace}/deployments/{name}": {"delete": {"operationId": "deleteAppsV1NamespacedDeployment"}}}}`,
		"/openapi/v2":              `{"paths": {"/api/v1/nodes": {"get": {}}}}`,
	})
	u, source, err := FetchUniverse(context.Background(), d)
	require.NoError(t, err)
	assert.Equal(t, "openapi/v3", source)
	var keys []string
	for _, e := range u.Endpoints {
		keys = append(keys, e.GroupVersion+" "+e.Key())
	}
	assert.ElementsMatch(t, []string{
		"core/v1 GET /api/v1/namespaces/{namespace}/pods",
		"core/v1 POST /api/v1/namespaces/{namespace}/pods",
		"apps/v1 DELETE /apis/apps/v1/namespaces/{namespace}/deployments/{name}",
	}, keys, "the v3 documents, not the v2 one")
}

// TestFetchUniverseFallsBackToV2: a server without OpenAPI v3 gives its v2
// document, each path named by its group version as v3 would.
func TestFetchUniverseFallsBackToV2(t *testing.T) {
	d := openAPIServer(t, map[string]string{
		"/openapi/v2": `{"swagger": "2.0", "paths": {"/api/v1/nodes": {"get": {"operationId": "listCoreV1Node"}},
			"/apis/batch/v1/namespaces/{namespace}/jobs": {"post": {"operationId": "createBatchV1NamespacedJob"}}, "/version/": {"get": {}}}}`,
	})
	u, source, err := FetchUniverse(context.Background(), d)
	require.NoError(t, err)
	assert.Equal(t, "openapi/v2", source)
	var keys []string
	for _, e := range u.Endpoints {
		keys = append(keys, e.GroupVersion+" "+e.Key())
	}
	assert.ElementsMatch(t, []string{"core/v1 GET /api/v1/nodes", "batch/v1 POST /apis/batch/v1/namespaces/{namespace}/jobs", "version GET /version/"}, keys)
}

// TestFetchUniverseWithoutOpenAPI says what it could not read.
func TestFetchUniverseWithoutOpenAPI(t *testing.T) {
	_, _, err := FetchUniverse(context.Background(), openAPIServer(t, nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reading the cluster's OpenAPI")
}
