package support

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// APICoverageExpected is what each test of testdata/apicov calls, by hand
// from the Python client's calls, as the OpenAPI names the endpoints.
var APICoverageExpected = map[string][]string{
	"tests/test_api.py::test_list_pods": {"GET /api/v1/namespaces/{namespace}/pods"},
	"tests/test_api.py::test_create_and_delete_configmap": {
		"DELETE /api/v1/namespaces/{namespace}/configmaps/{name}",
		"POST /api/v1/namespaces/{namespace}/configmaps",
	},
	"tests/test_api.py::test_read_own_namespace": {"GET /api/v1/namespaces/{name}"},
	"tests/test_api.py::test_calls_nothing":      {},
}

// APICoverageAccount is the ServiceAccount testdata/apicov's pods run as.
const APICoverageAccount = "apicov"

// CreateAPICoverageAccount creates, in ns, the ServiceAccount
// APICoverageAccount and a Role, bound to it, that allows exactly what the
// tests of testdata/apicov call.
func CreateAPICoverageAccount(ctx context.Context, c kubernetes.Interface, ns string) error {
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: APICoverageAccount}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: APICoverageAccount},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := c.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: APICoverageAccount},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: APICoverageAccount},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: APICoverageAccount, Namespace: ns}},
	}, metav1.CreateOptions{})
	return err
}
