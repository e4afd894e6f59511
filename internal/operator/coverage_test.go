package operator

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// sqlite stands for a coverage.py data file: SaveCoverage keeps only
// SQLite databases.
func sqlite(tag string) []byte { return []byte("SQLite format 3\x00" + tag) }

// withCoverage appends coverage data files to a collector's block.
func withCoverage(t *testing.T, log []byte, files ...transport.File) []byte {
	t.Helper()
	got, err := transport.Decode(bytes.NewReader(log))
	require.NoError(t, err)
	for _, f := range files {
		got = append(got, transport.File{Name: transport.CoverageDir + "/" + f.Name, Data: f.Data})
	}
	var buf bytes.Buffer
	require.NoError(t, transport.Encode(&buf, got, 8<<20))
	return buf.Bytes()
}

func coverageMaps(t *testing.T, e *env, run string) []corev1.ConfigMap {
	t.Helper()
	cms := &corev1.ConfigMapList{}
	require.NoError(t, e.client.List(context.Background(), cms, client.MatchingLabels{k8s.LabelRun: run, k8s.LabelRole: RoleCoverage}))
	return cms.Items
}

func TestRunWithCoverageRunsPytestUnderCoverage(t *testing.T) {
	for _, podPer := range []string{"", plan.PerFile} {
		e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping(podPer, 0), func(r *v1alpha1.TestRun) { r.Spec.Coverage = true }))
		started(t, e, "r1")
		pods := e.pods()
		require.NotEmpty(t, pods, podPer)
		for _, p := range pods {
			argv := strings.Join(append(p.Spec.Containers[0].Command, p.Spec.Containers[0].Args...), " ")
			assert.Contains(t, argv, "-m coverage run --parallel-mode", "pod %s (pod per %q)", p.Name, podPer)
			var env []string
			for _, v := range p.Spec.Containers[0].Env {
				env = append(env, v.Name)
			}
			assert.Contains(t, env, coverage.DataFileEnv, p.Name)
		}
	}
}

func TestCaseKeepsEachAttemptsCoverageForTheCLI(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) { r.Spec.Coverage = true; r.Spec.Retries = 1 }))
	started(t, e, "r1")
	name := TestCaseName("r1", testid.CaseID(sampleIDs[0]))
	first, second := podName("r1", sampleIDs[0], 1), podName("r1", sampleIDs[0], 2)
	e.logs[first] = withCoverage(t, block(t, sampleIDs[0], 1), transport.File{Name: ".coverage.host.1.x", Data: sqlite("first")})
	e.logs[second] = withCoverage(t, block(t, sampleIDs[0], 0), transport.File{Name: ".coverage.host.2.y", Data: sqlite("second")},
		transport.File{Name: ".coverage.host.3.z", Data: []byte("not sqlite")})
	e.finish(first, 1, false)
	e.reconcileCase(name) // collects the failure
	e.reconcileCase(name) // deletes its pod
	e.reconcileRun("r1")  // creates attempt 2
	e.finish(second, 0, false)
	e.reconcileCase(name)
	e.reconcileCase(name)
	e.reconcileRun("r1")
	run := e.run("r1")
	require.True(t, run.Status.Phase.Finished(), run.Status.Phase)

	cms := coverageMaps(t, e, "r1")
	require.Len(t, cms, 2, "one ConfigMap per attempt's pod: a retried test's coverage counts every attempt, as in direct mode")
	for _, cm := range cms {
		assert.Equal(t, e.testCase("r1", sampleIDs[0]).UID, cm.OwnerReferences[0].UID, "owned by the TestCase, so it goes with the run")
	}

	dir := t.TempDir()
	var warned []string
	n, err := SaveCoverage(context.Background(), e.client, run, dir, func(err error) { warned = append(warned, err.Error()) })
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	got := map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, f := range entries {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		require.NoError(t, err)
		got[f.Name()] = string(b)
	}
	assert.Equal(t, map[string]string{
		".coverage." + first + ".host.1.x":  string(sqlite("first")),
		".coverage." + second + ".host.2.y": string(sqlite("second")),
	}, got, "named after their pod, as the runner names them, so the footprints find each test's files")
	require.Len(t, warned, 1)
	assert.Contains(t, warned[0], "not coverage.py data")
}

func TestRunKeepsAUnitPodsCoverage(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs...), withGrouping(plan.PerFile, 0), func(r *v1alpha1.TestRun) { r.Spec.Coverage = true }))
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	pods := e.runPods("r1")
	require.Len(t, pods, 2)
	for i, p := range pods {
		var done []unitVerdict
		for _, cid := range strings.Split(p.Annotations[k8s.AnnotationCases], ",") {
			for _, id := range sampleIDs {
				if testid.CaseID(id) == cid {
					done = append(done, unitVerdict{testID: id})
				}
			}
		}
		e.logs[p.Name] = withCoverage(t, unitBlock(t, "", 0, done...), transport.File{Name: ".coverage.h." + string(rune('a'+i)), Data: sqlite(p.Name)})
		e.finish(p.Name, 0, false)
	}
	e.reconcileRun("r1")
	e.reconcileRun("r1")
	run := e.run("r1")
	require.True(t, run.Status.Phase.Finished(), run.Status.Phase)

	cms := coverageMaps(t, e, "r1")
	require.Len(t, cms, 2, "one per unit pod, not one per test")
	dir := t.TempDir()
	n, err := SaveCoverage(context.Background(), e.client, run, dir, func(err error) { t.Error(err) })
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, p := range pods {
		matches, err := filepath.Glob(filepath.Join(dir, ".coverage."+p.Name+".*"))
		require.NoError(t, err)
		require.Len(t, matches, 1, p.Name)
		b, err := os.ReadFile(matches[0])
		require.NoError(t, err)
		assert.Equal(t, string(sqlite(p.Name)), string(b))
	}
}

func TestCoverageTooLargeForAConfigMapIsLeftOutWithAnEvent(t *testing.T) {
	e := newEnv(t, testRun("r1", withTests(sampleIDs[0]), func(r *v1alpha1.TestRun) { r.Spec.Coverage = true }))
	started(t, e, "r1")
	pod := podName("r1", sampleIDs[0], 1)
	big := make([]byte, 3*maxStored)
	rand.NewChaCha8([32]byte{1}).Read(big) // incompressible
	p := &corev1.Pod{}
	require.NoError(t, e.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: pod}, p))
	tc := e.testCase("r1", sampleIDs[0])
	err := keepCoverage(context.Background(), e.client, e.client, e.recorder, tc, v1alpha1.GroupVersion.WithKind("TestCase"), "r1", p,
		[]transport.File{{Name: ".coverage.x", Data: append(sqlite(""), big...)}})
	require.NoError(t, err, "the run goes on without that pod's coverage")
	assert.Len(t, coverageMaps(t, e, "r1"), 0)
	found := false
	for _, ev := range e.events() {
		found = found || strings.Contains(ev, "CoverageTooLarge")
	}
	assert.True(t, found, "%v", e.events())
}
