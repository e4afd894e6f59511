package operator

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// noSkips is pytest's JUnit of a collection that skipped nothing.
const noSkips = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="0" time="0.010" /></testsuites>`

// discoveryLog is the discovery pod's log: pytest's output, then the block
// of pytest's JUnit the collect role prints.
func discoveryLog(t *testing.T, output, junitXML string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(output)
	require.NoError(t, transport.Encode(&b, []transport.File{{Name: discover.JUnitFile, Data: []byte(junitXML)}}, transport.DefaultBlock))
	return b.String()
}

// pytest 7.2.1's JUnit of a collection in which one module called
// pytest.importorskip("no_such_module").
const oneModuleSkipped = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="1" tests="1" time="0.054"><testcase classname="" name="tests.test_importorskip" file="tests/test_importorskip.py" time="0.000"><skipped message="collection skipped">('/workspace/tests/test_importorskip.py', 3, "Skipped: could not import 'no_such_module': No module named 'no_such_module'")</skipped></testcase></testsuite></testsuites>`

// A module pytest skipped at collection gets no TestCase and no pod, is in
// the TestRun's Total and Skipped, and is a skipped testcase of the report,
// as pytest wrote it.
func TestRunReportsModulesSkippedAtCollection(t *testing.T) {
	e := newEnv(t, testRun("r1"))
	e.reconcileRun("r1")
	e.discovery = discoveryLog(t, "tests/test_a.py::test_one\ntests/test_b.py::test_one\n\n2 tests collected in 0.01s\n", oneModuleSkipped)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")

	run := e.run("r1")
	assert.Equal(t, int32(3), run.Status.Total)
	assert.Equal(t, int32(1), run.Status.CollectionSkipped)
	assert.Len(t, e.testCases("r1"), 2, "no TestCase for the skipped module")
	cm := &corev1.ConfigMap{}
	require.NoError(t, e.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: CollectionName("r1")}, cm))
	assert.Equal(t, RoleCollection, cm.Labels["k8s-testrun.io/role"])

	e.reconcileRun("r1")
	e.reconcileRun("r1")
	require.Len(t, e.pods(), 2, "a pod for each collected test, none for the module")
	run = e.run("r1")
	assert.Equal(t, int32(3), run.Status.Total, "the count holds once the tests run")
	assert.Equal(t, int32(1), run.Status.Skipped, "the module counts as skipped from the start")
	for _, id := range []string{"tests/test_a.py::test_one", "tests/test_b.py::test_one"} {
		e.finish(podName("r1", id, 1), 0, false)
	}
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	run = e.run("r1")
	require.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase, run.Status.Message)
	assert.Equal(t, []int32{3, 2, 0, 0, 1}, []int32{run.Status.Total, run.Status.Passed, run.Status.Failed, run.Status.Errors, run.Status.Skipped})

	rep, err := LoadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	tcs := rep.JUnit().Suites[0].Testcases
	require.Len(t, tcs, 3)
	module := tcs[0]
	assert.Equal(t, "", module.Classname)
	assert.Equal(t, "tests.test_importorskip", module.Name)
	assert.Equal(t, "tests/test_importorskip.py", module.File)
	require.NotNil(t, module.Skipped)
	assert.Equal(t, "collection skipped", module.Skipped.Message)
	assert.Equal(t, `('/workspace/tests/test_importorskip.py', 3, "Skipped: could not import 'no_such_module': No module named 'no_such_module'")`, module.Skipped.Text)
	_, hasPod := module.Property(junit.PropertyPod)
	assert.False(t, hasPod)
	assert.Equal(t, 1, rep.Counts().Skipped)
	assert.Equal(t, 3, rep.Counts().Total)

	stored, err := ReadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	assert.Contains(t, string(stored), `name="tests.test_importorskip"`, "the stored report has the module")
}

// A collection that skipped every module ends the run as NoTests, naming
// what pytest skipped.
func TestRunEveryModuleSkippedAtCollection(t *testing.T) {
	e := newEnv(t, testRun("r1"))
	e.reconcileRun("r1")
	e.discovery = discoveryLog(t, "\nno tests collected in 0.16s\n", oneModuleSkipped)
	e.finish(DiscoveryPodName("r1"), 5, false)
	e.reconcileRun("r1")

	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, "pytest skipped every test module at collection (tests/test_importorskip.py)")
	assert.Empty(t, e.testCases("r1"))
}
