package operator

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
)

// fakeAuthAPI is the part of an API server that the metrics' filter
// delegates to: TokenReviews and SubjectAccessReviews. Token "reader"
// belongs to a user allowed get on /metrics, token "nobody" to one who is
// not; any other token is not authenticated.
func fakeAuthAPI(t *testing.T, reviews *atomic.Int32) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apis/authentication.k8s.io/v1/tokenreviews", func(w http.ResponseWriter, r *http.Request) {
		reviews.Add(1)
		var tr authnv1.TokenReview
		if !assert.NoError(t, json.NewDecoder(r.Body).Decode(&tr)) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch tr.Spec.Token {
		case "reader", "nobody":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: tr.Spec.Token}}
		default:
			tr.Status = authnv1.TokenReviewStatus{Authenticated: false}
		}
		tr.APIVersion, tr.Kind = "authentication.k8s.io/v1", "TokenReview"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&tr)
	})
	mux.HandleFunc("POST /apis/authorization.k8s.io/v1/subjectaccessreviews", func(w http.ResponseWriter, r *http.Request) {
		var sar authzv1.SubjectAccessReview
		if !assert.NoError(t, json.NewDecoder(r.Body).Decode(&sar)) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		nr := sar.Spec.NonResourceAttributes
		sar.Status.Allowed = sar.Spec.User == "reader" && nr != nil && nr.Path == "/metrics" && nr.Verb == "get"
		sar.APIVersion, sar.Kind = "authorization.k8s.io/v1", "SubjectAccessReview"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&sar)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestMetricsNeedAuthentication serves the metrics as the operator does by
// default and scrapes them: without a token, with a token the API server
// does not know, and as a user it does not allow, the scrape is refused;
// only an allowed user gets the metrics, and only over HTTPS.
func TestMetricsNeedAuthentication(t *testing.T) {
	var reviews atomic.Int32
	api := fakeAuthAPI(t, &reviews)
	cfg := &rest.Config{Host: api.URL}
	srv, err := metricsserver.NewServer(MetricsOptions("127.0.0.1:0", true), cfg, api.Client())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), testr.New(t)))
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	bound := srv.(interface{ GetBindAddr() string })
	require.Eventually(t, func() bool { return bound.GetBindAddr() != "" }, 10*time.Second, 10*time.Millisecond)
	addr := bound.GetBindAddr()

	// The certificate is self-signed: the test trusts it as Prometheus
	// would be told to (insecure_skip_verify or the operator's CA).
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a self-signed test certificate
	}}
	scrape := func(token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	code, body := scrape("")
	assert.Equal(t, http.StatusUnauthorized, code, "no token: %s", body)
	assert.NotContains(t, body, "k8s_testrun_")
	assert.Zero(t, reviews.Load(), "a request without a token is refused before the API server is asked")

	// The filter answers an unknown bearer token with 500 ("Authentication
	// failed"), as the API server's bearer-token authenticator reports it as
	// an error: refused all the same.
	code, body = scrape("stolen")
	assert.GreaterOrEqual(t, code, 400, "unknown token: %s", body)
	assert.NotContains(t, body, "k8s_testrun_")

	code, body = scrape("nobody")
	assert.Equal(t, http.StatusForbidden, code, "user without get on /metrics: %s", body)
	assert.NotContains(t, body, "k8s_testrun_")

	code, body = scrape("reader")
	assert.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "k8s_testrun_pods_created_total")

	// Plain HTTP is not served at all.
	resp, err := client.Get("http://" + addr + "/metrics")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.NotEqual(t, http.StatusOK, resp.StatusCode)
		assert.False(t, strings.Contains(string(b), "k8s_testrun_"), "metrics over plain HTTP")
	}
}

func TestMetricsOptions(t *testing.T) {
	secure := MetricsOptions(DefaultMetricsAddr, true)
	assert.True(t, secure.SecureServing)
	assert.NotNil(t, secure.FilterProvider)
	assert.Equal(t, ":8443", secure.BindAddress)
	insecure := MetricsOptions("127.0.0.1:8080", false)
	assert.False(t, insecure.SecureServing)
	assert.Nil(t, insecure.FilterProvider)
}

func TestNamespaceCache(t *testing.T) {
	assert.Nil(t, namespaceCache(nil), "no namespaces: every namespace")
	got := namespaceCache([]string{"a", "b"})
	assert.Len(t, got, 2)
	assert.Contains(t, got, "a")
	assert.Contains(t, got, "b")
}

func TestCacheKeepsNoManagedFields(t *testing.T) {
	o := cacheOptions([]string{"a"})
	require.NotNil(t, o.DefaultTransform)
	assert.Contains(t, o.DefaultNamespaces, "a")
	tc := &v1alpha1.TestCase{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "k8s-testrun", Operation: metav1.ManagedFieldsOperationUpdate}}}}
	got, err := o.DefaultTransform(tc)
	require.NoError(t, err)
	assert.Empty(t, got.(*v1alpha1.TestCase).ManagedFields)
	assert.Equal(t, "c", got.(*v1alpha1.TestCase).Name)
}
