package manifests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestLanesSchema: the installed CRDs make the API server refuse a lane
// policy other than serial, slow, flaky or disruptive, an empty marker list,
// a marker that is no Python identifier, a negative or too large
// flakyRetries, a negative slowTimeout, and a TestCase lane it does not
// know.
func TestLanesSchema(t *testing.T) {
	objs, err := Build(Default)
	require.NoError(t, err)
	spec := func(crd string) map[string]any {
		o := find(objs, "CustomResourceDefinition", crd)
		require.NotNil(t, o, crd)
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		require.Len(t, versions, 1)
		s, ok, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec", "properties")
		require.True(t, ok)
		return s
	}
	run := spec("testruns.k8s-testrun.io")

	lanes, ok, _ := unstructured.NestedMap(run, "lanes")
	require.True(t, ok, "spec.lanes is in the schema")
	assert.Equal(t, "object", lanes["type"])
	assert.EqualValues(t, 4, lanes["maxProperties"])
	assert.Equal(t, []any{
		map[string]any{"message": "lanes are serial, slow, flaky or disruptive", "rule": "self.all(k, k in ['serial', 'slow', 'flaky', 'disruptive'])"},
		map[string]any{"message": "give each lane at least one marker", "rule": "self.all(k, self[k].size() > 0)"},
		map[string]any{"message": "lanes are immutable", "rule": "self == oldSelf"},
	}, lanes["x-kubernetes-validations"])
	item, ok, _ := unstructured.NestedMap(lanes, "additionalProperties", "items")
	require.True(t, ok)
	assert.Equal(t, "string", item["type"])
	assert.Equal(t, "^[A-Za-z_][A-Za-z0-9_]*$", item["pattern"], "the pattern --lane checks")

	slow, ok, _ := unstructured.NestedMap(run, "slowTimeout")
	require.True(t, ok, "spec.slowTimeout is in the schema")
	assert.Equal(t, "string", slow["type"])
	assert.Equal(t, []any{map[string]any{"message": "give a duration such as 30m", "rule": "duration(self) >= duration('0s')"}}, slow["x-kubernetes-validations"])

	flaky, ok, _ := unstructured.NestedMap(run, "flakyRetries")
	require.True(t, ok, "spec.flakyRetries is in the schema")
	assert.Equal(t, "integer", flaky["type"])
	assert.EqualValues(t, 0, flaky["minimum"])
	assert.EqualValues(t, 10, flaky["maximum"])

	tc := spec("testcases.k8s-testrun.io")
	lane, ok, _ := unstructured.NestedSlice(tc, "lane", "enum")
	require.True(t, ok, "a TestCase's spec.lane is in the schema")
	assert.ElementsMatch(t, []any{"", "serial", "slow", "flaky", "disruptive"}, lane)
	timeout, ok, _ := unstructured.NestedMap(tc, "timeout")
	require.True(t, ok, "a TestCase's spec.timeout is in the schema")
	assert.Equal(t, "string", timeout["type"])
}
