//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
)

// operatorSA is the operator's ServiceAccount, as RBAC names it.
const operatorSA = "system:serviceaccount:" + operatorNamespace + ":k8s-testrun-operator"

// testLeastPrivilege asks the API server what the operator, installed
// without --cluster-wide, may do: create and delete pods and read their
// logs in its own namespace and the one it was told to watch, and nothing
// of the kind in a namespace it does not watch, nor anywhere cluster-wide.
func (e *opEnv) testLeastPrivilege(t *testing.T) {
	ctx := Context(t, 2*time.Minute)
	other := e.c.NewNamespace(t, "e2e-unwatched")
	can := e.operatorCan(ctx, t)
	for _, ns := range []string{e.ns, operatorNamespace} {
		assert.True(t, can(ns, "create", "pods", ""), "create pods in %s", ns)
		assert.True(t, can(ns, "delete", "pods", ""), "delete pods in %s", ns)
		assert.True(t, can(ns, "get", "pods", "log"), "read pod logs in %s", ns)
	}
	for _, ns := range []string{other, "default", "kube-system", ""} {
		where := ns
		if where == "" {
			where = "every namespace"
		}
		assert.False(t, can(ns, "create", "pods", ""), "create pods in %s", where)
		assert.False(t, can(ns, "delete", "pods", ""), "delete pods in %s", where)
		assert.False(t, can(ns, "get", "pods", "log"), "read pod logs in %s", where)
		assert.False(t, can(ns, "create", "configmaps", ""), "create configmaps in %s", where)
		assert.False(t, can(ns, "list", "testruns", ""), "list testruns in %s", where)
	}
	assert.False(t, can("", "get", "secrets", ""), "read secrets")
	assert.False(t, can(e.ns, "get", "secrets", ""), "read secrets in %s", e.ns)

	// A TestRun in the namespace it does not watch is not even seen.
	run := e.testRun("unwatched", v1alpha1.TestRunSpec{})
	run.Namespace = other
	require.NoError(t, e.cr.Create(ctx, run))
	time.Sleep(5 * time.Second)
	pods, err := e.c.Client.CoreV1().Pods(other).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, pods.Items, "the operator made pods in a namespace it does not watch")
	got := &v1alpha1.TestRun{}
	require.NoError(t, e.cr.Get(ctx, client.ObjectKey{Namespace: other, Name: "unwatched"}, got))
	assert.Empty(t, got.Status.Phase, "the operator reconciled a TestRun of a namespace it does not watch")
}

// operatorCan asks the API server whether the operator's ServiceAccount may
// do verb on resource (and subresource) in namespace ns, "" for all.
func (e *opEnv) operatorCan(ctx context.Context, t *testing.T) func(ns, verb, resource, sub string) bool {
	return func(ns, verb, resource, sub string) bool {
		t.Helper()
		sar, err := e.c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
			Spec: authzv1.SubjectAccessReviewSpec{
				User:   operatorSA,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
				ResourceAttributes: &authzv1.ResourceAttributes{
					Namespace: ns, Verb: verb, Resource: resource, Subresource: sub,
				},
			},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		return sar.Status.Allowed
	}
}

// testClusterWide installs the operator with --cluster-wide, then narrows
// it again: the rights in a namespace it was not told about come and go,
// and so does its watching every namespace.
func (e *opEnv) testClusterWide(t *testing.T) {
	ctx := Context(t, 5*time.Minute)
	can := e.operatorCan(ctx, t)
	other := e.c.NewNamespace(t, "e2e-cluster-wide")
	args := func() []string {
		d, err := e.c.Client.AppsV1().Deployments(operatorNamespace).Get(ctx, "k8s-testrun-operator", metav1.GetOptions{})
		require.NoError(t, err)
		return d.Spec.Template.Spec.Containers[0].Args
	}

	res := e.c.RunCLI(ctx, t, nil, "install", "--overlay", operatorOverlay(), "--image", e.opImage, "--cluster-wide")
	require.Equal(t, 0, res.Exit, "install --cluster-wide: %s", res.Stderr)
	assert.Contains(t, res.Stderr, "the operator watches every namespace (--cluster-wide)\n")
	assert.True(t, can(other, "create", "pods", ""), "--cluster-wide: create pods in %s", other)
	assert.True(t, can("", "create", "pods", ""), "--cluster-wide: create pods in every namespace")
	assert.Contains(t, args(), "--all-namespaces")

	res = e.c.RunCLI(ctx, t, nil, "install", "--overlay", operatorOverlay(), "--image", e.opImage, "--watch-namespace", e.ns)
	require.Equal(t, 0, res.Exit, "install --watch-namespace: %s", res.Stderr)
	assert.Contains(t, res.Stderr, "revoked")
	assert.False(t, can(other, "create", "pods", ""), "narrowed again: create pods in %s", other)
	assert.False(t, can("", "create", "pods", ""), "narrowed again: create pods in every namespace")
	assert.True(t, can(e.ns, "create", "pods", ""), "narrowed again: create pods in %s", e.ns)
	assert.Contains(t, args(), "--watch-namespace="+operatorNamespace+","+e.ns)
	assert.NotContains(t, args(), "--all-namespaces")
}

// testMetricsNeedAuthentication scrapes the operator's metrics: refused
// without a token, and with the token of a ServiceAccount that may not
// read them; served over HTTPS to one bound to k8s-testrun-metrics-reader.
// The local overlay serves them on the node's loopback, which this test
// shares; elsewhere the test is skipped.
func (e *opEnv) testMetricsNeedAuth(t *testing.T) {
	if operatorOverlay() != "local" {
		t.Skip("the operator's metrics are reachable from the test on the local cluster only (host network)")
	}
	ctx := Context(t, 2*time.Minute)
	url := "https://127.0.0.1:18480/metrics"
	token := func(sa string) string {
		t.Helper()
		_, err := e.c.Client.CoreV1().ServiceAccounts(e.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
		require.NoError(t, err)
		tr, err := e.c.Client.CoreV1().ServiceAccounts(e.ns).CreateToken(ctx, sa,
			&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(600))}}, metav1.CreateOptions{})
		require.NoError(t, err)
		return tr.Status.Token
	}
	reader, nobody := token("metrics-reader"), token("nobody")
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-metrics-reader-" + e.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "k8s-testrun-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "metrics-reader", Namespace: e.ns}},
	}
	_, err := e.c.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = e.c.Client.RbacV1().ClusterRoleBindings().Delete(Context(t, 30*time.Second), crb.Name, metav1.DeleteOptions{})
	})

	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		// The operator's certificate is self-signed.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the operator's self-signed certificate
	}}
	scrape := func(token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	code, body := scrape("")
	assert.Equal(t, http.StatusUnauthorized, code, "no token: %.200s", body)
	assert.NotContains(t, body, "k8s_testrun_")
	code, body = scrape("not-a-token")
	assert.GreaterOrEqual(t, code, 400, "a made-up token: %.200s", body)
	assert.NotContains(t, body, "k8s_testrun_")
	code, body = scrape(nobody)
	assert.Equal(t, http.StatusForbidden, code, "a ServiceAccount without the reader role: %.200s", body)
	assert.NotContains(t, body, "k8s_testrun_")

	// The authorizer caches a denial for 30s; the reader was bound before
	// its first scrape, but RBAC may take a moment to see the binding.
	deadline := time.Now().Add(45 * time.Second)
	for {
		code, body = scrape(reader)
		if code == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	assert.Equal(t, http.StatusOK, code, "%.200s", body)
	assert.Contains(t, body, "controller_runtime_reconcile_total")

	resp, err := client.Get("http://127.0.0.1:18480/metrics")
	if err == nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		assert.NotContains(t, string(b), "k8s_testrun_", "metrics served over plain HTTP")
	}
	t.Logf("metrics: %d bytes to the reader, refused to the others", len(body))
}
