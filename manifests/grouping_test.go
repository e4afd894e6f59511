package manifests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestGroupingSchema: the installed CRDs make the API server refuse a
// spec.podPer other than test, class, file or auto, a negative spec.shards, and a
// change to either, and a durationsConfigMap that is no ConfigMap name; a
// TestCase's attempt can name the unit that ran it and keep its duration.
func TestGroupingSchema(t *testing.T) {
	objs, err := Build(Default)
	require.NoError(t, err)
	schema := func(crd string) map[string]any {
		o := find(objs, "CustomResourceDefinition", crd)
		require.NotNil(t, o, crd)
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		require.Len(t, versions, 1)
		s, ok, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema")
		require.True(t, ok)
		return s
	}
	podPer, ok, _ := unstructured.NestedMap(schema("testruns.k8s-testrun.io"), "properties", "spec", "properties", "podPer")
	require.True(t, ok, "spec.podPer is in the schema")
	assert.Equal(t, []any{"test", "class", "file", "auto"}, podPer["enum"])
	assert.Equal(t, []any{map[string]any{"message": "podPer is immutable", "rule": "self == oldSelf"}}, podPer["x-kubernetes-validations"])

	shards, ok, _ := unstructured.NestedMap(schema("testruns.k8s-testrun.io"), "properties", "spec", "properties", "shards")
	require.True(t, ok, "spec.shards is in the schema")
	assert.Equal(t, "integer", shards["type"])
	assert.EqualValues(t, 0, shards["minimum"])
	assert.Equal(t, []any{map[string]any{"message": "shards are immutable", "rule": "self == oldSelf"}}, shards["x-kubernetes-validations"])

	dcm, ok, _ := unstructured.NestedMap(schema("testruns.k8s-testrun.io"), "properties", "spec", "properties", "durationsConfigMap")
	require.True(t, ok, "spec.durationsConfigMap is in the schema")
	assert.Equal(t, "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", dcm["pattern"])
	assert.Equal(t, []any{map[string]any{"message": "durationsConfigMap is immutable", "rule": "self == oldSelf"}}, dcm["x-kubernetes-validations"])
	_, ok, _ = unstructured.NestedMap(schema("testcases.k8s-testrun.io"), "properties", "spec", "properties", "expectedDuration")
	assert.True(t, ok, "a TestCase keeps its expected duration")

	attempt, ok, _ := unstructured.NestedMap(schema("testcases.k8s-testrun.io"), "properties", "status", "properties", "history", "items", "properties")
	require.True(t, ok)
	assert.Contains(t, attempt, "unit")
	assert.Contains(t, attempt, "unitAttempt")
	assert.Contains(t, attempt, "duration")
}
