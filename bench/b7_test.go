package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/manifests"
)

func TestAutoOverlay(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	assert.Equal(t, manifests.Default, autoOverlay(env(nil)))
	assert.Equal(t, manifests.Local, autoOverlay(env(map[string]string{"K8S_TESTRUN_CLUSTER_DIR": "/var/lib/k8s-testrun/cluster/ktr"})))
	assert.Equal(t, "default", autoOverlay(env(map[string]string{
		"K8S_TESTRUN_CLUSTER_DIR": "/var/lib/k8s-testrun/cluster/ktr", "K8S_TESTRUN_OPERATOR_OVERLAY": "default"})))
}

// The operator's manifests for the session's namespace are what B7
// installs and, last first, deletes: the namespace and CRDs go last.
func TestOperatorManifestsScoped(t *testing.T) {
	objs, err := manifests.BuildScoped(manifests.Local, manifests.Scope{Namespaces: []string{"ktr-bench-abc123"}})
	require.NoError(t, err)
	assert.Contains(t, manifests.Watched(objs), "ktr-bench-abc123")
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind())
	}
	assert.Contains(t, kinds, "Deployment")
	assert.Contains(t, kinds, "CustomResourceDefinition")
}

func TestCompareModes(t *testing.T) {
	plain, err := junit.Parse(strings.NewReader(plainXML))
	require.NoError(t, err)
	got, err := sampleVerdicts(plain, plainIDs)
	require.NoError(t, err)
	assert.Equal(t, "failed 1, passed 1, skipped 1", verdictCounts(got))
	_, err = sampleVerdicts(plain, append(plainIDs, "tests/test_other.py::Test::test_absent"))
	require.ErrorContains(t, err, "1 of the 4 tests are not in the report, e.g. tests/test_other.py::Test::test_absent")

	assert.Empty(t, compareModes(plainIDs, plain, plain))

	// The operator's report: one verdict changed, one test missing.
	other := junit.Testsuites{Suites: []junit.Testsuite{{Name: "pytest", Testcases: []junit.Testcase{
		{Classname: "tests.test_api.IntegrationTests", Name: "test_goodFile"},
		{Classname: "tests.test_other.Test", Name: "test_x"},
	}}}}
	assert.Equal(t, []string{
		"  tests/test_api.py::IntegrationTests::test_goodFile: direct failed (AssertionError: Tuples differ), operator passed",
		"  tests/test_other.py::Test::test_skip: in direct mode's report true, in operator mode's false",
	}, compareModes(plainIDs, plain, other))
	assert.Equal(t, 1, countRounds([]string{"round 2: 2 tests differ", "  a: direct failed, operator passed"}))
}

func TestNotInstalled(t *testing.T) {
	objs, err := manifests.BuildScoped(manifests.Local, manifests.Scope{Namespaces: []string{"ktr-bench-abc123"}})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, notInstalled(ctx, fake.NewSimpleClientset(), objs))

	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "k8s-testrun-system", Name: "k8s-testrun-operator"}}
	err = notInstalled(ctx, fake.NewSimpleClientset(dep), objs)
	require.ErrorContains(t, err, "the operator is already installed (deployment k8s-testrun-system/k8s-testrun-operator)")

	require.NoError(t, stillInstalled(ctx, fake.NewSimpleClientset(dep), objs))
	err = stillInstalled(ctx, fake.NewSimpleClientset(), objs)
	require.ErrorContains(t, err, "the operator B7 installed is gone (deployment k8s-testrun-system/k8s-testrun-operator)")

	_, _, err = operatorDeployment(ctx, fake.NewSimpleClientset(), nil)
	require.ErrorContains(t, err, "no Deployment")
}

func TestRequestsPerTest(t *testing.T) {
	var req [2]RequestCounts
	req[0] = addCounts(req[0], RequestCounts{{"POST", "pods", ""}: 10})
	req[1] = addCounts(req[1], RequestCounts{{"POST", "pods", ""}: 10, {"PUT", "testcases", "status"}: 30})
	req[1] = addCounts(req[1], RequestCounts{{"PUT", "testcases", "status"}: 10, {"WATCH", "pods", ""}: 3})
	lines := requestsPerTest(req, 10)
	assert.Equal(t, []string{
		"  API requests per test (whole cluster, 10 tests), direct | operator:",
		"    PUT testcases/status       0.00 |   4.00",
		"    POST pods                  1.00 |   1.00",
	}, lines, "only the requests B7 breaks down, per test, in b7Requests' order")
}
