package manifests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestHistorySchema: the installed TestRun CRD takes spec.history and
// spec.quarantine, immutable, with ConfigMap names; its status has the
// comparison and the quarantined count; kubectl get shows the new
// failures in a column of the default view.
func TestHistorySchema(t *testing.T) {
	objs, err := Build(Default)
	require.NoError(t, err)
	o := find(objs, "CustomResourceDefinition", "testruns.k8s-testrun.io")
	require.NotNil(t, o)
	versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
	require.Len(t, versions, 1)
	version := versions[0].(map[string]any)
	schema, ok, _ := unstructured.NestedMap(version, "schema", "openAPIV3Schema")
	require.True(t, ok)

	for _, field := range []string{"history", "quarantine"} {
		f, ok, _ := unstructured.NestedMap(schema, "properties", "spec", "properties", field)
		require.True(t, ok, "spec.%s is in the schema", field)
		assert.Equal(t, []any{"configMap"}, f["required"], field)
		assert.Equal(t, []any{map[string]any{"message": field + " is immutable", "rule": "self == oldSelf"}}, f["x-kubernetes-validations"])
		cm, ok, _ := unstructured.NestedMap(f, "properties", "configMap")
		require.True(t, ok)
		assert.Equal(t, "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", cm["pattern"], field)
	}
	for _, field := range []string{"newFailures", "fixed", "stillFailing", "newFlaky", "newTests", "removedTests", "slower"} {
		f, ok, _ := unstructured.NestedMap(schema, "properties", "status", "properties", "comparison", "properties", field)
		require.True(t, ok, "status.comparison.%s", field)
		assert.Equal(t, "integer", f["type"])
	}
	_, ok, _ = unstructured.NestedMap(schema, "properties", "status", "properties", "quarantined")
	assert.True(t, ok, "status.quarantined")

	cols, _, _ := unstructured.NestedSlice(version, "additionalPrinterColumns")
	var col map[string]any
	for _, c := range cols {
		if c.(map[string]any)["name"] == "New failures" {
			col = c.(map[string]any)
		}
	}
	require.NotNil(t, col, "a New failures column: %v", cols)
	assert.Equal(t, ".status.comparison.newFailures", col["jsonPath"])
	assert.Nil(t, col["priority"], "in the default view")
}
