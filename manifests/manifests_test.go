package manifests

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func TestBuild(t *testing.T) {
	for _, overlay := range []string{Default, Local} {
		t.Run(overlay, func(t *testing.T) {
			objs, err := Build(overlay)
			require.NoError(t, err)
			assert.Equal(t, "Namespace", objs[0].GetKind(), "namespaces first")
			for _, crd := range []string{"testruns.k8s-testrun.io", "testcases.k8s-testrun.io"} {
				assert.NotNil(t, find(objs, "CustomResourceDefinition", crd), crd)
			}
			assert.NotNil(t, find(objs, "ClusterRole", "k8s-testrun-operator"))
			assert.NotNil(t, find(objs, "RoleBinding", "k8s-testrun-operator"))
			assert.NotNil(t, find(objs, "Role", "k8s-testrun-operator-leader-election"))
			dep := find(objs, "Deployment", "k8s-testrun-operator")
			require.NotNil(t, dep)
			assert.Equal(t, "k8s-testrun-system", dep.GetNamespace())
			containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
			require.Len(t, containers, 1)
			c := containers[0].(map[string]any)
			assert.Equal(t, "k8s-testrun-operator:latest", c["image"])
			hostNet, _, _ := unstructured.NestedBool(dep.Object, "spec", "template", "spec", "hostNetwork")
			assert.Equal(t, overlay == Local, hostNet)
		})
	}
	_, err := Build("nope")
	assert.ErrorContains(t, err, `unknown overlay "nope"`)
}

// TestRoleIsLeastPrivilege pins the operator's permissions: what it may
// not do matters as much as what it may.
func TestRoleIsLeastPrivilege(t *testing.T) {
	objs, err := Build(Default)
	require.NoError(t, err)
	role := find(objs, "ClusterRole", "k8s-testrun-operator")
	require.NotNil(t, role)
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	got := map[string][]any{}
	for _, r := range rules {
		rule := r.(map[string]any)
		for _, res := range rule["resources"].([]any) {
			got[res.(string)] = rule["verbs"].([]any)
		}
	}
	assert.Equal(t, []any{"get"}, got["pods/log"])
	assert.ElementsMatch(t, []any{"create", "delete", "get", "list", "patch", "watch"}, got["pods"])
	assert.NotContains(t, got, "secrets")
	assert.NotContains(t, got, "pods/exec")
	assert.NotContains(t, got["configmaps"], "delete", "owner references delete them")
	assert.NotContains(t, got["testcases"], "delete")
}

// binding is one binding of the operator's ClusterRole, by where it grants.
type binding struct{ kind, namespace string }

// operatorBindings are the bindings of the ClusterRole k8s-testrun-operator
// and whom each binds.
func operatorBindings(t *testing.T, objs []*unstructured.Unstructured) []binding {
	t.Helper()
	var out []binding
	for _, o := range objs {
		if o.GetKind() != "RoleBinding" && o.GetKind() != "ClusterRoleBinding" {
			continue
		}
		ref, _, _ := unstructured.NestedStringMap(o.Object, "roleRef")
		if ref["name"] != OperatorName {
			continue
		}
		assert.Equal(t, "ClusterRole", ref["kind"])
		subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
		require.Len(t, subjects, 1)
		s := subjects[0].(map[string]any)
		assert.Equal(t, "ServiceAccount", s["kind"])
		assert.Equal(t, OperatorName, s["name"])
		assert.Equal(t, "k8s-testrun-system", s["namespace"])
		out = append(out, binding{o.GetKind(), o.GetNamespace()})
	}
	return out
}

// clusterRights are the rules cluster-scoped bindings grant the operator,
// by resource.
func clusterRights(t *testing.T, objs []*unstructured.Unstructured) map[string][]any {
	t.Helper()
	got := map[string][]any{}
	for _, o := range objs {
		if o.GetKind() != "ClusterRoleBinding" {
			continue
		}
		ref, _, _ := unstructured.NestedStringMap(o.Object, "roleRef")
		role := find(objs, "ClusterRole", ref["name"])
		require.NotNil(t, role, ref["name"])
		rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
		for _, r := range rules {
			rule := r.(map[string]any)
			for _, res := range rule["resources"].([]any) {
				got[res.(string)] = append(got[res.(string)], rule["verbs"].([]any)...)
			}
		}
	}
	return got
}

// TestScopes builds the manifests for each scope install offers and checks
// where the operator may act and what it watches.
func TestScopes(t *testing.T) {
	metricsAuth := map[string][]any{"tokenreviews": {"create"}, "subjectaccessreviews": {"create"}, "nodes": {"list", "watch"}}
	for _, overlay := range []string{Default, Local} {
		t.Run(overlay+"/own namespace", func(t *testing.T) {
			objs, err := BuildScoped(overlay, Scope{})
			require.NoError(t, err)
			assert.Equal(t, []binding{{"RoleBinding", "k8s-testrun-system"}}, operatorBindings(t, objs))
			assert.Equal(t, metricsAuth, clusterRights(t, objs), "no cluster-wide rights but the metrics' reviews and reading nodes")
			assert.Equal(t, []string{"k8s-testrun-system"}, Watched(objs))
			assert.Contains(t, args(t, objs), "--watch-namespace=$(POD_NAMESPACE)")
		})
		t.Run(overlay+"/watched namespaces", func(t *testing.T) {
			objs, err := BuildScoped(overlay, Scope{Namespaces: []string{"a", "b", "a", "k8s-testrun-system"}})
			require.NoError(t, err)
			assert.Equal(t, []binding{
				{"RoleBinding", "k8s-testrun-system"}, {"RoleBinding", "a"}, {"RoleBinding", "b"},
			}, operatorBindings(t, objs))
			assert.Equal(t, metricsAuth, clusterRights(t, objs))
			assert.Equal(t, []string{"k8s-testrun-system", "a", "b"}, Watched(objs))
			a := args(t, objs)
			assert.Contains(t, a, "--watch-namespace=k8s-testrun-system,a,b")
			assert.NotContains(t, a, "--watch-namespace=$(POD_NAMESPACE)")
		})
		t.Run(overlay+"/cluster-wide", func(t *testing.T) {
			objs, err := BuildScoped(overlay, Scope{ClusterWide: true})
			require.NoError(t, err)
			assert.Contains(t, operatorBindings(t, objs), binding{"ClusterRoleBinding", ""})
			rights := clusterRights(t, objs)
			assert.Contains(t, rights["pods"], "create")
			assert.Contains(t, rights["pods"], "delete")
			assert.Equal(t, []any{"get"}, rights["pods/log"])
			assert.Nil(t, Watched(objs), "every namespace")
			a := args(t, objs)
			assert.Contains(t, a, "--all-namespaces")
			for _, arg := range a {
				assert.NotContains(t, arg, "--watch-namespace")
			}
			assert.Equal(t, overlay == Local, find(objs, "Deployment", OperatorName) != nil &&
				nestedBool(find(objs, "Deployment", OperatorName), "spec", "template", "spec", "hostNetwork"), "the overlay stays")
		})
	}
	_, err := BuildScoped(Default, Scope{ClusterWide: true, Namespaces: []string{"a"}})
	assert.EqualError(t, err, "--watch-namespace and --cluster-wide exclude each other: --cluster-wide already watches every namespace")
	_, err = BuildScoped(Default, Scope{Namespaces: []string{"Bad_NS"}})
	assert.ErrorContains(t, err, `--watch-namespace "Bad_NS": not a namespace name`)
}

func nestedBool(o *unstructured.Unstructured, fields ...string) bool {
	b, _, _ := unstructured.NestedBool(o.Object, fields...)
	return b
}

// args are the operator container's arguments.
func args(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	dep := find(objs, "Deployment", OperatorName)
	require.NotNil(t, dep)
	a, err := operatorArgs(dep)
	require.NoError(t, err)
	return a
}

// TestKubectlKustomizeAgrees checks that kubectl builds the same objects,
// when a kubectl is at hand ($KUBECTL, else on PATH).
func TestKubectlKustomizeAgrees(t *testing.T) {
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		var err error
		if kubectl, err = exec.LookPath("kubectl"); err != nil {
			t.Skip("no kubectl: set KUBECTL or put one on PATH")
		}
	}
	out, err := exec.Command(kubectl, "kustomize", "default").Output()
	require.NoError(t, err)
	objs, err := Build(Default)
	require.NoError(t, err)
	assert.Contains(t, string(out), "name: k8s-testrun-operator")
	assert.Equal(t, len(objs), countDocs(out))
}

func countDocs(b []byte) int {
	n := 1
	for i := 0; i+4 <= len(b); i++ {
		if string(b[i:i+4]) == "\n---" {
			n++
		}
	}
	return n
}
