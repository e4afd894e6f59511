//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// podLife is one test pod as the API showed it: the positions, in the
// watch's event order, of its creation and of its removal.
type podLife struct {
	name, testID string
	added, gone  int
}

// recordLives watches the test pods k8s-testrun creates in ns and returns a
// function that stops the watch and gives each pod's life. One watch stream
// orders every event, so the positions order creations and removals as
// the API server did; a pod is alive, for this, from its creation until it
// is gone from the API (terminating counts as alive).
func (c *Cluster) recordLives(ctx context.Context, t *testing.T, ns string) func() []podLife {
	t.Helper()
	w, before := c.WatchPods(ctx, t, ns, k8s.LabelManagedBy+"="+k8s.ManagedBy+","+k8s.LabelRole+"=test")
	require.Empty(t, before, "no test pod before the run")
	var (
		mu    sync.Mutex
		lives = map[string]*podLife{}
		order []string
		seq   int
		errs  []string
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			mu.Lock()
			seq++
			switch p, ok := ev.Object.(*corev1.Pod); {
			case ev.Type == watch.Error:
				errs = append(errs, fmt.Sprint(apierrors.FromObject(ev.Object)))
			case ok && ev.Type == watch.Added:
				lives[p.Name] = &podLife{name: p.Name, testID: p.Annotations[k8s.AnnotationTestID], added: seq}
				order = append(order, p.Name)
			case ok && ev.Type == watch.Deleted:
				if l := lives[p.Name]; l != nil {
					l.gone = seq
				}
			}
			mu.Unlock()
		}
	}()
	return func() []podLife {
		// The removals the run waited for may reach the watch later.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			all := true
			for _, l := range lives {
				all = all && l.gone != 0
			}
			mu.Unlock()
			if all {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		w.Stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		assert.Empty(t, errs, "errors from the watch on pods in %s", ns)
		out := make([]podLife, 0, len(order))
		for _, name := range order {
			out = append(out, *lives[name])
		}
		return out
	}
}

func overlap(a, b podLife) bool { return a.added < b.gone && b.added < a.gone }

// TestMarkerLanes runs testdata/lanes (6 plain tests, 3 serial ones, one of
// them by a marker --lane maps to serial, a slow, a flaky and a disruptive
// one) at parallelism 4 with a 30s timeout, and checks from the API's pod
// events that no serial or disruptive pod lived beside another test pod,
// that serial pods came after every parallel pod and the disruptive one
// after them all, that the slow test (40s) passed under the slow timeout
// (3× 30s) and started in the first batch, and that the flaky test failed, ran again
// with --retries 0 and is reported flaky.
func TestMarkerLanes(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-lanes")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	lives := c.recordLives(ctx, t, ns)
	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--timeout", "30s", "--lane", "serial=serial,db_migration"), Testdata("lanes"))...)
	c.RequireNoRunPods(t, ns)
	assertLanes(t, res, report, lives())
}

// assertLanes checks a run of testdata/lanes (its result res, its JUnit
// report and the lives of its pods) as TestMarkerLanes describes.
func assertLanes(t *testing.T, res CLIResult, report string, got []podLife) {
	t.Helper()
	require.Equal(t, 0, res.Exit, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	assert.Contains(t, res.Stdout, "12 passed, 1 flaky")
	assert.Contains(t, res.Stdout, "serial: 3 passed (3 tests)")
	assert.Contains(t, res.Stdout, "default: 6 passed (6 tests)")
	assert.Contains(t, res.Stderr, "RERUN   tests/test_flaky.py::test_flaky", "the flaky test's first failure is rerun")
	assert.Contains(t, res.Stderr, "FLAKY   tests/test_flaky.py::test_flaky")

	lane := map[string]string{}
	for key, tc := range byKey(readReport(t, report)) {
		l, ok := tc.Property(junit.PropertyLane)
		require.True(t, ok, "%s names its lane", key)
		id, ok := tc.Property(junit.PropertyTestID)
		require.True(t, ok, "%s names its test id", key)
		lane[id] = l
		assert.Equal(t, junit.StatusPassed, tc.Status(), key)
		if strings.HasSuffix(key, "test_flaky") {
			flaky, _ := tc.Property(junit.PropertyFlaky)
			assert.Equal(t, "true", flaky, "a pass on retry is flaky")
			attempt, _ := tc.Property(junit.PropertyAttempt)
			assert.Equal(t, "2", attempt, "the flaky test ran twice with --retries 0")
		}
	}
	laneOf := func(l podLife) string { return lane[l.testID] }
	require.Len(t, got, 13, "one pod per test, the flaky one twice")
	counts := map[string]int{}
	maxAlive := 0
	for i, l := range got {
		require.NotZero(t, l.gone, "pod %s was removed", l.name)
		ln := laneOf(l)
		require.NotEmpty(t, ln, "pod %s (%s) has a lane", l.name, l.testID)
		counts[ln]++
		alive := 1
		for j, o := range got {
			if i == j || !overlap(l, o) {
				continue
			}
			alive++
			assert.False(t, ln == "serial" || ln == "disruptive", "%s pod %s (%s) lived beside %s (%s)", ln, l.name, l.testID, o.name, o.testID)
		}
		maxAlive = max(maxAlive, alive)
		for _, o := range got {
			switch on := laneOf(o); {
			case ln == "serial" && on != "serial" && on != "disruptive":
				assert.Less(t, o.gone, l.added, "serial pod %s after parallel pod %s", l.name, o.name)
			case ln == "disruptive" && o.name != l.name:
				assert.Less(t, o.gone, l.added, "disruptive pod %s after every other pod (%s)", l.name, o.name)
			}
		}
	}
	assert.Equal(t, map[string]int{"default": 6, "serial": 3, "slow": 1, "flaky": 2, "disruptive": 1}, counts)
	assert.Greater(t, maxAlive, 1, "the parallel tests ran in parallel")
	// The first pods are created at once, in any order: the slow test's
	// is among them.
	first := map[string]bool{}
	for _, l := range got[:4] {
		first[laneOf(l)] = true
	}
	assert.True(t, first["slow"], "the slow test's pod was among the first 4 created")
	t.Logf("pods in creation order: %v", func() []string {
		var s []string
		for _, l := range got {
			s = append(s, fmt.Sprintf("%s[%d-%d]", laneOf(l), l.added, l.gone))
		}
		return s
	}())
}
