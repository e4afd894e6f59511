package operator

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// Tests of the lanes run, and the markers discovery reports for them.
const (
	lanePlain   = "tests/test_l.py::test_plain"
	laneSerial  = "tests/test_l.py::test_migrates"
	laneSlow    = "tests/test_l.py::test_slow"
	laneFlaky   = "tests/test_l.py::test_flaky"
	laneDisrupt = "tests/test_l.py::test_reboots"
)

func lanesDiscovery(t *testing.T) string {
	out := ""
	for _, id := range []string{lanePlain, laneSerial, laneSlow, laneFlaky, laneDisrupt} {
		out += id + "\n"
	}
	out += "\n"
	for id, marks := range map[string]string{
		laneSerial: `["db_migration", "parametrize"]`, laneSlow: `["slow"]`, laneFlaky: `["flaky"]`, laneDisrupt: `["disruptive", "slow"]`,
	} {
		out += fmt.Sprintf(`k8s-testrun-marks {"nodeid": %q, "markers": %s}`+"\n", id, marks)
	}
	return discoveryLog(t, out+"5 tests collected in 0.01s\n", noSkips)
}

// livePods are the test pods that exist, by test id.
func (e *env) livePods() map[string][]string {
	out := map[string][]string{}
	for _, p := range e.pods() {
		if p.Labels[k8s.LabelRole] == "test" {
			id := p.Annotations[k8s.AnnotationTestID]
			out[id] = append(out[id], p.Name)
		}
	}
	return out
}

func (e *env) livePod(testID string) corev1.Pod {
	e.t.Helper()
	for _, p := range e.pods() {
		if p.Labels[k8s.LabelRole] == "test" && p.Annotations[k8s.AnnotationTestID] == testID {
			return p
		}
	}
	e.t.Fatalf("no pod of %s", testID)
	return corev1.Pod{}
}

func keys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// In operator mode each test takes its lane from its markers under the
// run's lanes: the slow test gets spec.slowTimeout as its pod's deadline,
// the flaky one spec.flakyRetries extra attempts, and the serial and
// disruptive ones start only once every other pod of the run is gone, one
// at a time, disruptive last.
func TestRunLanes(t *testing.T) {
	e := newEnv(t, testRun("r1", func(r *v1alpha1.TestRun) {
		r.Spec.Parallelism = 4
		r.Spec.Lanes = map[string]v1alpha1.LaneMarkers{plan.LaneSerial: {"db_migration"}}
		r.Spec.SlowTimeout = &metav1.Duration{Duration: 5 * time.Minute}
		r.Spec.FlakyRetries = ptr.To(int32(1))
	}))
	e.reconcileRun("r1")
	e.discovery = lanesDiscovery(t)
	e.finish(DiscoveryPodName("r1"), 0, false)
	e.reconcileRun("r1")

	want := map[string]struct {
		lane     string
		attempts int32
		timeout  time.Duration
	}{
		lanePlain:   {plan.LaneDefault, 1, time.Minute},
		laneSerial:  {plan.LaneSerial, 1, time.Minute},
		laneSlow:    {plan.LaneSlow, 1, 5 * time.Minute},
		laneFlaky:   {plan.LaneFlaky, 2, time.Minute},
		laneDisrupt: {plan.LaneDisruptive, 1, time.Minute},
	}
	for id, w := range want {
		tc := e.testCase("r1", id)
		assert.Equal(t, w.lane, tc.Spec.Lane, id)
		assert.Equal(t, w.attempts, tc.Spec.MaxAttempts, id)
		require.NotNil(t, tc.Spec.Timeout, id)
		assert.Equal(t, w.timeout, tc.Spec.Timeout.Duration, id)
	}

	// The parallel lanes first, each with its own deadline.
	e.reconcileRun("r1")
	require.Equal(t, []string{laneFlaky, lanePlain, laneSlow}, keys(e.livePods()))
	assert.Equal(t, int64(300), *e.livePod(laneSlow).Spec.ActiveDeadlineSeconds, "slowTimeout")
	assert.Equal(t, int64(60), *e.livePod(lanePlain).Spec.ActiveDeadlineSeconds, "timeout")

	for _, id := range []string{lanePlain, laneSlow} {
		e.finish(e.livePod(id).Name, 0, false)
	}
	e.finish(e.livePod(laneFlaky).Name, 1, false)
	e.reconcileCases("r1") // collect
	e.reconcileCases("r1") // delete
	// The flaky test runs again although spec.retries is 0; the serial
	// one waits for it.
	e.reconcileRun("r1")
	require.Equal(t, []string{laneFlaky}, keys(e.livePods()))
	assert.Equal(t, "2", e.livePod(laneFlaky).Labels[k8s.LabelAttempt])

	e.finish(e.livePod(laneFlaky).Name, 0, false)
	e.reconcileCases("r1") // collect: recorded, but its pod still exists
	e.reconcileRun("r1")
	require.Equal(t, []string{laneFlaky}, keys(e.livePods()), "no serial pod beside another pod, even a finished one")
	e.reconcileCases("r1") // delete
	e.reconcileRun("r1")
	require.Equal(t, []string{laneSerial}, keys(e.livePods()), "serial alone, before disruptive")

	e.finish(e.livePod(laneSerial).Name, 0, false)
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	require.Equal(t, []string{laneSerial}, keys(e.livePods()), "disruptive waits for the serial pod to go")
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	require.Equal(t, []string{laneDisrupt}, keys(e.livePods()))

	e.finish(e.livePod(laneDisrupt).Name, 0, false)
	e.reconcileCases("r1")
	e.reconcileCases("r1")
	e.reconcileRun("r1")
	run := e.run("r1")
	require.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase, run.Status.Message)
	assert.EqualValues(t, 5, run.Status.Passed)
	assert.EqualValues(t, 1, run.Status.Flaky)
	assert.Len(t, e.testCase("r1", laneFlaky).Status.History, 2, "the flaky test ran twice")

	// The report groups by lane, as in direct mode.
	rep, err := LoadReport(context.Background(), e.client, run)
	require.NoError(t, err)
	lanes := map[string]string{}
	for _, cr := range rep.Cases {
		lanes[cr.Case.TestID] = cr.Case.Lane
	}
	assert.Equal(t, plan.LaneSerial, lanes[laneSerial])
	assert.Equal(t, plan.LaneDisruptive, lanes[laneDisrupt])
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJUnit(&buf))
	assert.Contains(t, buf.String(), `<property name="`+junit.PropertyLane+`" value="serial">`)
}
