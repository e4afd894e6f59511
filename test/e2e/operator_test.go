//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
	"github.com/k8s-testrun/k8s-testrun/test/support"
)

// EnvKubectl names the kubectl the operator tests use; without it, the one
// of the local cluster ($K8S_TESTRUN_CLUSTER_DIR/cluster.json), else the
// one on PATH.
const EnvKubectl = "KUBECTL"

// EnvOperatorOverlay names the kustomization the operator is installed
// with: "local" for the local cluster of hack/cluster (the default when
// $K8S_TESTRUN_CLUSTER_DIR says that is the cluster), else "default".
const EnvOperatorOverlay = "K8S_TESTRUN_OPERATOR_OVERLAY"

// operatorNamespace is where the manifests put the operator.
const operatorNamespace = "k8s-testrun-system"

func operatorOverlay() string {
	if o := os.Getenv(EnvOperatorOverlay); o != "" {
		return o
	}
	if os.Getenv("K8S_TESTRUN_CLUSTER_DIR") != "" {
		return "local"
	}
	return "default"
}

func overlayDir(overlay string) string {
	if overlay == "local" {
		return filepath.Join(support.RepoRoot(), "manifests", "overlays", "local")
	}
	return filepath.Join(support.RepoRoot(), "manifests", overlay)
}

// opEnv is the operator installed in the cluster from its own image, which
// `k8s-testrun install --repository` pushes, and the sample's test image.
type opEnv struct {
	c       *Cluster
	cr      client.Client
	kubectl string
	ns      string
	image   string
	// opImage is the operator's image: the k8s-testrun binary alone.
	opImage string
	// direct is the sample's JUnit report from direct mode.
	direct junit.Testsuites
	// directReport is its path.
	directReport string
}

// TestOperator runs the sample project through the operator, running in
// the cluster as a pod: by `kubectl apply` of a TestRun and by `run --mode
// operator`, across a killed operator, a deleted run, and a failed test's
// lingering pod.
func TestOperator(t *testing.T) {
	c := Connect(t)
	ctx := Context(t, 20*time.Minute)
	e := &opEnv{c: c, kubectl: kubectlPath(t), ns: c.NewNamespace(t, "e2e-operator")}
	scheme, err := operator.Scheme()
	require.NoError(t, err)
	e.cr, err = client.New(c.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)

	// Direct mode builds and pushes the image the operator then runs from.
	report := filepath.Join(t.TempDir(), "direct.xml")
	res := c.RunCLI(ctx, t, nil, "run", "--namespace", e.ns, "--repository", c.Repository(t), "--base-image", c.BaseImage,
		"--junit", report, "--artifacts", t.TempDir(), Testdata("sample"))
	require.Equal(t, 1, res.Exit, "the sample has failing tests")
	e.direct = readReport(t, report)
	e.directReport = report
	e.image = suiteProperty(e.direct, "k8s-testrun.image")
	require.Contains(t, e.image, "@sha256:")
	// The test image carries only the pod binary; the operator runs from an
	// image of the k8s-testrun binary, which install pushes.
	e.opImage = pushOperatorImage(ctx, t, c)

	// Installed once with kubectl apply -k, through an overlay that only
	// sets the image, then again with `k8s-testrun install`, which must
	// find it as it would have made it but for the namespace it adds to
	// those the operator watches (its own, by default).
	start := time.Now()
	t.Cleanup(func() { e.uninstall(t) })
	out, err := e.run(ctx, "apply", "--server-side", "-k", e.imageOverlay(t))
	require.NoError(t, err, "kubectl apply -k: %s", out)
	out, err = e.run(ctx, "rollout", "status", "-n", operatorNamespace, "deployment/k8s-testrun-operator", "--timeout=2m")
	require.NoError(t, err, "operator rollout: %s", out)
	t.Logf("operator installed with kubectl apply -k and available in %s", time.Since(start).Round(time.Millisecond))
	res = c.RunCLI(ctx, t, nil, "install", "--overlay", operatorOverlay(), "--image", e.opImage, "--watch-namespace", e.ns)
	require.Equal(t, 0, res.Exit, "install: %s", res.Stderr)
	assert.Contains(t, res.Stderr, "the operator watches namespaces "+operatorNamespace+", "+e.ns+"\n")
	pods, err := c.Client.CoreV1().Pods(operatorNamespace).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, pods.Items, 1, "the operator runs in the cluster as a pod")
	assert.Equal(t, e.opImage, pods.Items[0].Spec.Containers[0].Image)

	t.Run("least privilege", e.testLeastPrivilege)
	t.Run("metrics need authentication", e.testMetricsNeedAuth)
	t.Run("cluster-wide and back", e.testClusterWide)
	t.Run("kubectl apply", e.testKubectlApply)
	t.Run("same JUnit as direct mode", e.testSameJUnit)
	t.Run("operator killed mid-run", e.testOperatorKilled)
	t.Run("delete run", e.testDeleteRun)
	t.Run("linger", e.testLinger)
	t.Run("collection skips as plain pytest", e.testCollectionSkips)
	t.Run("marker lanes", e.testLanes)
	t.Run("rerun failed", e.testRerunFailed)
	t.Run("collection cache", e.testCollectionCache)
	t.Run("grouped", e.testGrouped)
	t.Run("grouped pod dies", e.testGroupedPodDies)
	t.Run("runtime matrix", e.testMatrix)
	t.Run("api coverage", e.testAPICoverage)
	t.Run("node lost", e.testNodeLost)
	t.Run("history", e.testHistory)
	t.Run("quarantine", e.testQuarantine)
	t.Run("run quarantine", e.testRunQuarantine)
}

func kubectlPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(EnvKubectl); p != "" {
		return p
	}
	if dir := os.Getenv("K8S_TESTRUN_CLUSTER_DIR"); dir != "" {
		var info struct {
			KubeBinDir string `json:"kubeBinDir"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, "cluster.json")); err == nil && json.Unmarshal(b, &info) == nil && info.KubeBinDir != "" {
			return filepath.Join(info.KubeBinDir, "kubectl")
		}
	}
	p, err := exec.LookPath("kubectl")
	require.NoError(t, err, "the operator tests need kubectl: set %s", EnvKubectl)
	return p
}

func (e *opEnv) run(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, e.kubectl, args...).CombinedOutput()
	return string(out), err
}

// imageOverlay is a kustomization over the operator's overlay that sets
// its image, as a user would with `kustomize edit set image`.
func (e *opEnv) imageOverlay(t *testing.T) string {
	t.Helper()
	name, digest, ok := strings.Cut(e.opImage, "@")
	require.True(t, ok, "image %s is not pinned by digest", e.opImage)
	dir := t.TempDir()
	// kustomize takes a base outside the kustomization's root by a relative
	// path only.
	base, err := filepath.Rel(dir, overlayDir(operatorOverlay()))
	require.NoError(t, err)
	k := fmt.Sprintf("resources:\n- %s\nimages:\n- name: k8s-testrun-operator\n  newName: %s\n  digest: %s\n", base, name, digest)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644))
	return dir
}

// pushOperatorImage pushes the operator's image with `k8s-testrun install
// --repository --print` and returns it.
func pushOperatorImage(ctx context.Context, t *testing.T, c *Cluster) string {
	t.Helper()
	res := c.RunCLI(ctx, t, nil, "install", "--print", "--overlay", operatorOverlay(), "--repository", c.Registry+"/e2e/operator")
	require.Equal(t, 0, res.Exit, "install --repository --print: %s", res.Stderr)
	m := regexp.MustCompile(`the operator's image: (\S+@sha256:[0-9a-f]{64}) `).FindStringSubmatch(res.Stderr)
	require.NotNil(t, m, "install names the image it pushed: %s", res.Stderr)
	assert.Contains(t, res.Stdout, "image: "+m[1]+"\n", "and installs it")
	return m[1]
}

func (e *opEnv) uninstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if logs, err := e.run(ctx, "logs", "-n", operatorNamespace, "deployment/k8s-testrun-operator", "--tail=300"); err == nil {
		t.Logf("operator log: %d reconciler errors", strings.Count(logs, "Reconciler error"))
		if t.Failed() {
			t.Logf("operator log (last 300 lines):\n%s", logs)
		}
	}
	out, err := e.run(ctx, "delete", "-k", overlayDir(operatorOverlay()), "--ignore-not-found", "--wait=false")
	assert.NoError(t, err, "uninstalling the operator: %s", out)
	// The binding of --cluster-wide, should a test have stopped before
	// narrowing the operator again.
	out, err = e.run(ctx, "delete", "clusterrolebinding", "k8s-testrun-operator", "--ignore-not-found")
	assert.NoError(t, err, "revoking the operator's cluster-wide rights: %s", out)
}

// testRun is a TestRun of the sample's image.
func (e *opEnv) testRun(name string, spec v1alpha1.TestRunSpec) *v1alpha1.TestRun {
	spec.Image = e.image
	return &v1alpha1.TestRun{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: spec}
}

// wait polls the named run until cond holds.
func (e *opEnv) wait(ctx context.Context, t *testing.T, name string, what string, cond func(*v1alpha1.TestRun, error) bool) *v1alpha1.TestRun {
	t.Helper()
	for {
		run := &v1alpha1.TestRun{}
		err := e.cr.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: name}, run)
		if cond(run, err) {
			return run
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "timed out", "waiting for TestRun %s: %s (phase %q, last error %v)", name, what, run.Status.Phase, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (e *opEnv) finished(ctx context.Context, t *testing.T, name string) *v1alpha1.TestRun {
	t.Helper()
	return e.wait(ctx, t, name, "to finish", func(r *v1alpha1.TestRun, err error) bool {
		return err == nil && r.Status.Phase.Finished()
	})
}

func (e *opEnv) gone(ctx context.Context, t *testing.T, obj client.Object) {
	t.Helper()
	for {
		err := e.cr.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "timed out", "waiting for %s to go: %v", obj.GetName(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (e *opEnv) cases(ctx context.Context, t *testing.T, run string) map[string]v1alpha1.TestCase {
	t.Helper()
	list := &v1alpha1.TestCaseList{}
	require.NoError(t, e.cr.List(ctx, list, client.InNamespace(e.ns), client.MatchingLabels{k8s.LabelRun: run}))
	out := map[string]v1alpha1.TestCase{}
	for _, tc := range list.Items {
		out[tc.Spec.TestID] = tc
	}
	return out
}

func (e *opEnv) runPods(ctx context.Context, t *testing.T, run string) []corev1.Pod {
	t.Helper()
	pods, err := e.c.Client.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.RunSelector(run)})
	require.NoError(t, err)
	return pods.Items
}

// noPods waits until the run has no pod left.
func (e *opEnv) noPods(ctx context.Context, t *testing.T, run string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, k8s.WaitGone(wctx, e.c.Client, e.ns, k8s.RunSelector(run)), "pods of %s left behind", run)
}

// sampleVerdicts are the sample project's tests by their verdict.
var sampleVerdicts = map[string]v1alpha1.TestCasePhase{
	"tests/test_basic.py::test_passes":                      v1alpha1.CasePassed,
	"tests/test_basic.py::test_fails_with_message":          v1alpha1.CaseFailed,
	"tests/test_basic.py::test_skipped":                     v1alpha1.CaseSkipped,
	"tests/test_basic.py::test_xfail":                       v1alpha1.CaseSkipped,
	"tests/test_basic.py::test_xpass":                       v1alpha1.CasePassed,
	"tests/test_basic.py::test_param[a b]":                  v1alpha1.CasePassed,
	"tests/test_basic.py::test_param[x[1]]":                 v1alpha1.CasePassed,
	"tests/test_basic.py::test_param[with::colons]":         v1alpha1.CasePassed,
	"tests/test_classes.py::TestArithmetic::test_add":       v1alpha1.CasePassed,
	"tests/test_classes.py::TestArithmetic::test_sub_fails": v1alpha1.CaseFailed,
	"tests/test_classes.py::test_writes_artifact":           v1alpha1.CasePassed,
	"tests/test_fixtures.py::test_uses_broken_fixture":      v1alpha1.CaseError,
}

func (e *opEnv) testKubectlApply(t *testing.T) {
	ctx := Context(t, 5*time.Minute)
	manifest := fmt.Sprintf(`apiVersion: k8s-testrun.io/v1alpha1
kind: TestRun
metadata:
  name: applied
  namespace: %s
spec:
  image: %s
  parallelism: 4
  timeout: 2m
  ttlSecondsAfterFinished: 3600
`, e.ns, e.image)
	path := filepath.Join(t.TempDir(), "testrun.yaml")
	require.NoError(t, os.WriteFile(path, []byte(manifest), 0o644))
	start := time.Now()
	out, err := e.run(ctx, "apply", "-f", path)
	require.NoError(t, err, out)

	run := e.finished(ctx, t, "applied")
	t.Logf("kubectl apply to %s in %s", run.Status.Phase, time.Since(start).Round(time.Millisecond))
	assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase)
	assert.Equal(t, int32(12), run.Status.Total)
	assert.Equal(t, int32(7), run.Status.Passed)
	assert.Equal(t, int32(2), run.Status.Failed)
	assert.Equal(t, int32(1), run.Status.Errors)
	assert.Equal(t, int32(2), run.Status.Skipped)
	assert.NotNil(t, run.Status.StartTime)
	assert.NotNil(t, run.Status.CompletionTime)
	require.NotNil(t, run.Status.Report)

	cases := e.cases(ctx, t, "applied")
	require.Len(t, cases, len(sampleVerdicts))
	for id, want := range sampleVerdicts {
		tc, ok := cases[id]
		if !assert.True(t, ok, "no TestCase for %s", id) {
			continue
		}
		assert.Equal(t, want, tc.Status.Phase, id)
		assert.Equal(t, int32(1), tc.Status.Attempts, id)
		assert.NotEmpty(t, tc.Status.Pod, id)
		assert.NotEmpty(t, tc.Status.Node, id)
		assert.NotNil(t, tc.Status.Duration, id)
		require.NotNil(t, tc.Status.ExitCode, id)
		assert.Equal(t, "TestRun", metav1.GetControllerOf(&tc).Kind)
	}
	fails := cases["tests/test_basic.py::test_fails_with_message"]
	assert.Equal(t, int32(1), *fails.Status.ExitCode)
	assert.Contains(t, fails.Status.Message, "expected three apples")

	out, err = e.run(ctx, "get", "testruns", "-n", e.ns, "applied")
	require.NoError(t, err, out)
	t.Logf("kubectl get testruns:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, []string{"NAME", "PHASE", "TOTAL", "PASSED", "FAILED", "ERRORS", "SKIPPED", "NEW", "FAILURES", "AGE"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"applied", "Failed", "12", "7", "2", "1", "2"}, strings.Fields(lines[1])[:7])
	out, err = e.run(ctx, "get", "testcases", "-n", e.ns, "-l", k8s.LabelRun+"=applied")
	require.NoError(t, err, out)
	assert.Contains(t, out, "tests/test_fixtures.py::test_uses_broken_fixture")

	xml, err := storedReport(ctx, e.cr, run)
	require.NoError(t, err)
	assert.Contains(t, string(xml), `tests="12" failures="2" errors="1" skipped="2"`)
	e.noPods(ctx, t, "applied")
}

// testSameJUnit runs the sample with `run --mode operator` and compares its
// report, test for test, with direct mode's.
func (e *opEnv) testSameJUnit(t *testing.T) {
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "operator.xml")
	res := e.c.RunCLI(ctx, t, nil, "run", "-v", "--mode", "operator", "--namespace", e.ns, "--repository", e.c.Repository(t),
		"--base-image", e.c.BaseImage, "--junit", report, "--artifacts", t.TempDir(), Testdata("sample"))
	assert.Equal(t, 1, res.Exit, "the sample has failing tests")
	assert.Contains(t, res.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
	assert.Contains(t, res.Stderr, "created TestRun")

	got, want := byKey(readReport(t, report)), byKey(e.direct)
	require.Len(t, got, len(want))
	for key, w := range want {
		g, ok := got[key]
		if !assert.True(t, ok, "operator mode has no %s", key) {
			continue
		}
		assert.Equal(t, w.Status(), g.Status(), key)
		assert.Equal(t, w.File, g.File, key)
		assert.Equal(t, w.Line, g.Line, key)
		if d := w.Detail(); d != nil {
			require.NotNil(t, g.Detail(), key)
			assert.Equal(t, d.Message, g.Detail().Message, key)
			assert.Equal(t, d.Type, g.Detail().Type, key)
		}
		assert.Equal(t, w.SystemOut != nil, g.SystemOut != nil, key)
		assert.Equal(t, len(w.Properties), len(g.Properties), key)
	}
	list := &v1alpha1.TestRunList{}
	require.NoError(t, e.cr.List(ctx, list, client.InNamespace(e.ns)))
	var mine *v1alpha1.TestRun
	for i := range list.Items {
		if strings.HasPrefix(list.Items[i].Name, "sample-") {
			mine = &list.Items[i]
		}
	}
	require.NotNil(t, mine, "the run stays in the cluster")
	assert.Equal(t, v1alpha1.RunFailed, mine.Status.Phase)
	require.NotNil(t, mine.Spec.TTLSecondsAfterFinished)
	e.noPods(ctx, t, mine.Name)
}

// podLog records every test pod created in a namespace, by name, with the
// UIDs it had: an attempt run twice is one name with two UIDs.
type podLog struct {
	mu   sync.Mutex
	uids map[string]map[types.UID]bool
}

func (e *opEnv) recordPods(ctx context.Context, t *testing.T, run string) *podLog {
	t.Helper()
	l := &podLog{uids: map[string]map[types.UID]bool{}}
	f := informers.NewSharedInformerFactoryWithOptions(e.c.Client, 0, informers.WithNamespace(e.ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = k8s.RunSelector(run) + "," + k8s.LabelRole + "=test" }))
	inf := f.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		p := obj.(*corev1.Pod)
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.uids[p.Name] == nil {
			l.uids[p.Name] = map[types.UID]bool{}
		}
		l.uids[p.Name][p.UID] = true
	}})
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	f.Start(wctx.Done())
	// Shutdown waits for the informers, which stop when their context ends.
	t.Cleanup(func() { stop(); f.Shutdown() })
	require.True(t, cache.WaitForCacheSync(wctx.Done(), inf.HasSynced))
	return l
}

func (l *podLog) created() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for name, uids := range l.uids {
		out[name] = len(uids)
	}
	return out
}

// testOperatorKilled kills the operator's pod while a run is half done and
// checks that the run still finishes right, no attempt ran twice, no test
// ran more often than its attempts allow, and no pod is left.
func (e *opEnv) testOperatorKilled(t *testing.T) {
	ctx := Context(t, 8*time.Minute)
	pods := e.recordPods(ctx, t, "killed")
	run := e.testRun("killed", v1alpha1.TestRunSpec{Parallelism: 2, Retries: 1})
	require.NoError(t, e.cr.Create(ctx, run))

	e.wait(ctx, t, "killed", "to be half done", func(r *v1alpha1.TestRun, err error) bool {
		return err == nil && r.Status.Passed+r.Status.Failed+r.Status.Errors+r.Status.Skipped >= 3
	})
	old, err := e.c.Client.CoreV1().Pods(operatorNamespace).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, old.Items, 1)
	killed := time.Now()
	out, err := e.run(ctx, "delete", "pod", "-n", operatorNamespace, old.Items[0].Name, "--grace-period=0", "--force")
	require.NoError(t, err, out)
	t.Logf("killed operator pod %s", old.Items[0].Name)

	final := e.finished(ctx, t, "killed")
	t.Logf("run finished %s after the kill", time.Since(killed).Round(time.Millisecond))
	now, err := e.c.Client.CoreV1().Pods(operatorNamespace).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, now.Items, 1)
	assert.NotEqual(t, old.Items[0].UID, now.Items[0].UID, "a new operator pod finished the run")

	assert.Equal(t, v1alpha1.RunFailed, final.Status.Phase)
	assert.Equal(t, int32(12), final.Status.Total)
	assert.Equal(t, int32(7), final.Status.Passed)
	assert.Equal(t, int32(2), final.Status.Failed)
	assert.Equal(t, int32(1), final.Status.Errors)
	assert.Equal(t, int32(2), final.Status.Skipped)
	e.noPods(ctx, t, "killed")

	created := pods.created()
	for name, n := range created {
		assert.Equal(t, 1, n, "pod %s created %d times: an attempt ran twice", name, n)
	}
	cases := e.cases(ctx, t, "killed")
	require.Len(t, cases, 12)
	for id, tc := range cases {
		assert.Equal(t, sampleVerdicts[id], tc.Status.Phase, id)
		assert.LessOrEqual(t, tc.Status.Attempts, tc.Spec.MaxAttempts, id)
		ran := 0
		for name := range created {
			if strings.HasPrefix(name, "ktr-killed-"+tc.Labels[k8s.LabelCase]+"-") {
				ran++
			}
		}
		assert.Equal(t, int(tc.Status.Attempts), ran, "%s: pods created against attempts recorded", id)
		for i, a := range tc.Status.History {
			assert.Equal(t, int32(i+1), a.Number, id)
		}
		want := int32(1)
		if tc.Status.Phase == v1alpha1.CaseFailed || tc.Status.Phase == v1alpha1.CaseError {
			want = 2
		}
		assert.Equal(t, want, tc.Status.Attempts, "%s: a failure is retried once", id)
	}
}

// testDeleteRun deletes a run while its pods run: its TestCases, pods and
// ConfigMaps go with it.
func (e *opEnv) testDeleteRun(t *testing.T) {
	ctx := Context(t, 3*time.Minute)
	run := e.testRun("deleted", v1alpha1.TestRunSpec{Parallelism: 2})
	require.NoError(t, e.cr.Create(ctx, run))
	e.wait(ctx, t, "deleted", "to start its tests", func(r *v1alpha1.TestRun, err error) bool {
		return err == nil && r.Status.Phase == v1alpha1.RunRunning && len(e.runPods(ctx, t, "deleted")) > 0
	})
	out, err := e.run(ctx, "delete", "testrun", "-n", e.ns, "deleted")
	require.NoError(t, err, out)
	e.gone(ctx, t, run)
	deadline, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for len(e.cases(deadline, t, "deleted")) > 0 {
		select {
		case <-deadline.Done():
			require.FailNow(t, "TestCases of a deleted run remain")
		case <-time.After(500 * time.Millisecond):
		}
	}
	e.noPods(ctx, t, "deleted")
	cms, err := e.c.Client.CoreV1().ConfigMaps(e.ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.RunSelector("deleted")})
	require.NoError(t, err)
	assert.Empty(t, cms.Items, "results go with their TestCases")
}

// testLinger keeps a failed test's pod for inspection, then lets it go: one
// run through its TTL, one deleted.
func (e *opEnv) testLinger(t *testing.T) {
	ctx := Context(t, 5*time.Minute)
	failing := "tests/test_basic.py::test_fails_with_message"
	ttl := int32(20)
	expiring := e.testRun("linger-ttl", v1alpha1.TestRunSpec{Tests: []string{failing, "tests/test_basic.py::test_passes"},
		LingerSecondsOnFailure: 600, TTLSecondsAfterFinished: &ttl})
	deleted := e.testRun("linger-del", v1alpha1.TestRunSpec{Tests: []string{failing}, LingerSecondsOnFailure: 600})
	require.NoError(t, e.cr.Create(ctx, expiring))
	require.NoError(t, e.cr.Create(ctx, deleted))

	var expiringDone time.Time
	for _, name := range []string{"linger-ttl", "linger-del"} {
		run := e.finished(ctx, t, name)
		if name == "linger-ttl" {
			expiringDone = run.Status.CompletionTime.Time
		}
		assert.Equal(t, v1alpha1.RunFailed, run.Status.Phase, name)
		assert.Equal(t, int32(1), run.Status.Failed, name)
		tc := e.cases(ctx, t, name)[failing]
		assert.Equal(t, v1alpha1.CaseFailed, tc.Status.Phase, name)
		assert.Contains(t, tc.Status.Message, "expected three apples", "%s: the results were collected while the pod lingers", name)

		var pods []corev1.Pod
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for {
			pods = e.runPods(ctx, t, name)
			if len(pods) == 1 || wctx.Err() != nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		cancel()
		require.Len(t, pods, 1, "%s: only the failed test's pod stays", name)
		p := pods[0]
		assert.Equal(t, tc.Status.Pod, p.Name)
		assert.Equal(t, corev1.PodRunning, p.Status.Phase, "%s: the pod is held", name)
		test := Terminated(&p, k8s.TestContainer)
		require.NotNil(t, test, "%s: the test has ended", name)
		assert.Equal(t, int32(1), test.ExitCode)
		collectorRuns := false
		for _, cs := range p.Status.ContainerStatuses {
			collectorRuns = collectorRuns || (cs.Name == k8s.CollectorContainer && cs.State.Running != nil)
		}
		assert.True(t, collectorRuns, "%s: the collector holds the pod: %s", name, e.c.Describe(ctx, &p))
		assert.Equal(t, "600", p.Annotations[operator.AnnotationLinger])
	}

	start := time.Now()
	out, err := e.run(ctx, "delete", "testrun", "-n", e.ns, "linger-del")
	require.NoError(t, err, out)
	e.noPods(ctx, t, "linger-del")
	t.Logf("lingering pod gone %s after its run was deleted", time.Since(start).Round(time.Millisecond))

	e.gone(ctx, t, expiring)
	e.noPods(ctx, t, "linger-ttl")
	t.Logf("lingering pod gone %s after its run finished (TTL %ds, linger 600s)", time.Since(expiringDone).Round(time.Second), ttl)
}

// storedReport returns the merged JUnit XML that the run's status points
// at, from the ConfigMap the operator stored it in.
func storedReport(ctx context.Context, r client.Reader, run *v1alpha1.TestRun) ([]byte, error) {
	ref := run.Status.Report
	if ref == nil {
		return nil, fmt.Errorf("run %s has no report yet", run.Name)
	}
	cm := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: ref.ConfigMap}, cm); err != nil {
		return nil, fmt.Errorf("reading report of run %s: %w", run.Name, err)
	}
	if ref.Key != operator.ReportKeyGzip {
		return []byte(cm.Data[ref.Key]), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(cm.BinaryData[ref.Key]))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}
