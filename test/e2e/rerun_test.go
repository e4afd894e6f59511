//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// sampleFailed are the tests of testdata/sample that fail or error.
var sampleFailed = []string{
	"tests/test_basic.py::test_fails_with_message",
	"tests/test_classes.py::TestArithmetic::test_sub_fails",
	"tests/test_fixtures.py::test_uses_broken_fixture",
}

// testPods records the pods of one role (test pods, discovery pods)
// created in a namespace, by name, with the test ids each ran, as the API
// server shows them to a watch.
type testPods struct {
	mu    sync.Mutex
	tests map[string][]string
}

func (c *Cluster) recordTestPods(ctx context.Context, t *testing.T, ns string) *testPods {
	t.Helper()
	return c.recordPods(ctx, t, ns, "test")
}

func (c *Cluster) recordPods(ctx context.Context, t *testing.T, ns, role string) *testPods {
	t.Helper()
	l := &testPods{tests: map[string][]string{}}
	f := informers.NewSharedInformerFactoryWithOptions(c.Client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = k8s.LabelRole + "=" + role }))
	inf := f.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		p := obj.(*corev1.Pod)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.tests[p.Name] = []string{p.Annotations[k8s.AnnotationTestID]}
	}})
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	f.Start(wctx.Done())
	t.Cleanup(func() { stop(); f.Shutdown() })
	require.True(t, cache.WaitForCacheSync(wctx.Done(), inf.HasSynced))
	return l
}

// ran returns the pods recorded so far and the test ids they ran.
func (l *testPods) ran() (pods int, tests []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ids := range l.tests {
		tests = append(tests, ids...)
	}
	return len(l.tests), tests
}

func reportTestIDs(t *testing.T, ts junit.Testsuites) map[string]junit.Testcase {
	t.Helper()
	out := map[string]junit.Testcase{}
	for _, tc := range ts.Suites[0].Testcases {
		id, ok := tc.Property(junit.PropertyTestID)
		require.True(t, ok, "%s::%s records its node id", tc.Classname, tc.Name)
		out[id] = tc
	}
	return out
}

// TestRerunFailed runs the sample once, then again with --rerun-failed on
// its report, then with plain pytest's report of the same project: each
// rerun runs exactly the 2 failed and the 1 errored test, as the report
// and the pods seen by a watch both show.
func TestRerunFailed(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-rerun")
	ctx := Context(t, 15*time.Minute)
	dir := t.TempDir()
	first := filepath.Join(dir, "first.xml")

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, first), Testdata("sample"))...)
	require.Equal(t, 1, res.Exit, res.Stderr)
	c.RequireNoRunPods(t, ns)
	firstCases := reportTestIDs(t, readReport(t, first))
	require.Len(t, firstCases, 12)

	rerunFrom := func(t *testing.T, report, gone string) {
		pods := c.recordTestPods(ctx, t, ns)
		second := filepath.Join(t.TempDir(), "rerun.xml")
		res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, second, "--rerun-failed", report), Testdata("sample"))...)
		assert.Equal(t, 1, res.Exit, "the failures fail again: %s", res.Stderr)
		assert.Contains(t, res.Stdout, "2 failed, 1 error")
		if gone == "" {
			assert.NotContains(t, res.Stderr, "no longer exist")
		} else {
			assert.Contains(t, res.Stderr, "\nk8s-testrun: 1 of the 4 failed tests in "+report+" no longer exist ("+gone+"); running the other 3\n")
		}
		c.RequireNoRunPods(t, ns)

		got := reportTestIDs(t, readReport(t, second))
		ids := make([]string, 0, len(got))
		for id := range got {
			ids = append(ids, id)
		}
		assert.ElementsMatch(t, sampleFailed, ids, "the report holds exactly the failed tests")
		assert.NotNil(t, got[sampleFailed[0]].Failure)
		assert.NotNil(t, got[sampleFailed[1]].Failure)
		assert.NotNil(t, got[sampleFailed[2]].Error, "the fixture error stays an error")

		n, ran := pods.ran()
		assert.Equal(t, 3, n, "one pod per failed test, no other")
		assert.ElementsMatch(t, sampleFailed, ran, "the pods ran exactly the failed tests")
	}
	t.Run("own report", func(t *testing.T) { rerunFrom(t, first, "") })

	t.Run("report with a test since removed", func(t *testing.T) {
		b, err := os.ReadFile(first)
		require.NoError(t, err)
		gone := `<testcase classname="tests.test_removed" name="test_gone[1]"><failure message="gone"></failure></testcase>`
		text := strings.Replace(string(b), "</testsuite>", gone+"</testsuite>", 1)
		require.Contains(t, text, gone)
		path := filepath.Join(t.TempDir(), "edited.xml")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		rerunFrom(t, path, "tests.test_removed::test_gone[1]")
	})

	t.Run("plain pytest report", func(t *testing.T) {
		image := suiteProperty(readReport(t, first), "k8s-testrun.image")
		require.NotEmpty(t, image)
		plain := c.plainPytest(t, ns, image)
		var b strings.Builder
		require.NoError(t, junit.Write(&b, plain))
		path := filepath.Join(t.TempDir(), "pytest.xml")
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
		require.NotContains(t, b.String(), junit.PropertyTestID, "plain pytest records no node ids")
		rerunFrom(t, path, "")
	})
}

// TestMaxFailures runs the sample one pod at a time with --max-failures 1:
// its second test fails, after which no pod starts; the other ten tests
// are reported not run, the exit code is 1, and no pod is left.
func TestMaxFailures(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-maxfail")
	ctx := Context(t, 10*time.Minute)
	junitPath := filepath.Join(t.TempDir(), "junit.xml")
	pods := c.recordTestPods(ctx, t, ns)

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, junitPath, "--parallelism", "1", "--max-failures", "1"), Testdata("sample"))...)
	assert.Equal(t, 1, res.Exit, "stopped by a failure: exit 1, not 2: %s", res.Stderr)
	assert.Contains(t, res.Stdout, "1 failed, 1 passed, 10 not run in ")
	c.RequireNoRunPods(t, ns)

	n, ran := pods.ran()
	assert.Equal(t, 2, n, "the passing first test, the failing second, nothing after")
	assert.ElementsMatch(t, []string{"tests/test_basic.py::test_passes", "tests/test_basic.py::test_fails_with_message"}, ran)

	cases := reportTestIDs(t, readReport(t, junitPath))
	require.Len(t, cases, 12, "every test is in the report")
	notRun := 0
	for id, tc := range cases {
		switch id {
		case "tests/test_basic.py::test_passes":
			assert.Equal(t, junit.StatusPassed, tc.Status(), id)
		case "tests/test_basic.py::test_fails_with_message":
			assert.Equal(t, junit.StatusFailed, tc.Status(), id)
		default:
			require.NotNil(t, tc.Error, id)
			assert.Equal(t, "NotRun", tc.Error.Type, id)
			assert.Equal(t, report.StoppedMessage, tc.Error.Message, id)
			notRun++
		}
	}
	assert.Equal(t, 10, notRun)
}
