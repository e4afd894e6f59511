package manifests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestMaxFailuresSchema: the installed TestRun CRD makes the API server
// refuse a negative spec.maxFailures (OpenAPI minimum) and a change to it
// (CEL), and knows the NotRun phase of a TestCase.
func TestMaxFailuresSchema(t *testing.T) {
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
	mf, ok, _ := unstructured.NestedMap(schema("testruns.k8s-testrun.io"), "properties", "spec", "properties", "maxFailures")
	require.True(t, ok, "spec.maxFailures is in the schema")
	assert.Equal(t, "integer", mf["type"])
	assert.EqualValues(t, 0, mf["minimum"])
	assert.Equal(t, []any{map[string]any{"message": "maxFailures is immutable", "rule": "self == oldSelf"}}, mf["x-kubernetes-validations"])
	notRun, ok, _ := unstructured.NestedMap(schema("testruns.k8s-testrun.io"), "properties", "status", "properties", "notRun")
	require.True(t, ok)
	assert.Equal(t, "integer", notRun["type"])

	phases, ok, _ := unstructured.NestedSlice(schema("testcases.k8s-testrun.io"), "properties", "status", "properties", "phase", "enum")
	require.True(t, ok)
	assert.Contains(t, phases, "NotRun")
}
