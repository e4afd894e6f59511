package operator

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

func quarantineConfigMap(yaml string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sample-quarantine", Namespace: ns}, Data: map[string]string{QuarantineKey: yaml}}
}

func withQuarantine(r *v1alpha1.TestRun) {
	r.Spec.Quarantine = &v1alpha1.QuarantineRef{ConfigMap: "sample-quarantine"}
	r.Spec.Parallelism = int32(len(sampleIDs))
}

func hasEvent(events []string, prefix string) bool {
	for _, ev := range events {
		if strings.HasPrefix(ev, prefix) {
			return true
		}
	}
	return false
}

// TestRunQuarantineExcusesAFailureUntilItsDate: a failing test quarantined
// until a later date still runs, is counted quarantined, not failed, and
// the run succeeds, its report saying why; the same entry past its date
// excuses nothing and gets a warning event.
func TestRunQuarantineExcusesAFailureUntilItsDate(t *testing.T) {
	entry := "quarantine:\n- test: " + sampleIDs[1] + "\n  until: %s\n  reason: flaky upstream\n  owner: qa\n"
	for _, tc := range []struct {
		until   string
		phase   v1alpha1.TestRunPhase
		failed  int32
		quarant int32
	}{
		{"2099-01-01", v1alpha1.RunSucceeded, 0, 1},
		{"2026-02-28", v1alpha1.RunFailed, 1, 0}, // the day before t0
	} {
		t.Run(tc.until, func(t *testing.T) {
			e := newEnv(t, quarantineConfigMap(strings.Replace(entry, "%s", tc.until, 1)), testRun("r1", withTests(sampleIDs...), withQuarantine))
			run := e.runTo("r1", 0, 1, 0)
			assert.Equal(t, tc.phase, run.Status.Phase, run.Status.Message)
			assert.Equal(t, tc.failed, run.Status.Failed)
			assert.Equal(t, tc.quarant, run.Status.Quarantined)
			assert.Equal(t, int32(2), run.Status.Passed)
			assert.Len(t, e.created, 3, "the quarantined test still runs")
			xml, err := ReadReport(context.Background(), e.client, run)
			require.NoError(t, err)
			ts, err := junit.Parse(bytes.NewReader(xml))
			require.NoError(t, err)
			if tc.quarant > 0 {
				assert.Contains(t, string(xml), "flaky upstream", "the report says why")
				assert.Contains(t, run.Status.Message, "1 quarantined")
				assert.False(t, hasEvent(e.events(), "Warning QuarantineExpired"))
			} else {
				assert.True(t, hasEvent(e.events(), "Warning QuarantineExpired"), "an expired entry is warned of")
			}
			assert.NotEmpty(t, ts.Suites)
		})
	}
}

// TestRunWithABadQuarantineEndsInError: bad entries get one line each and
// no test runs; so does a missing ConfigMap.
func TestRunWithABadQuarantineEndsInError(t *testing.T) {
	bad := "quarantine:\n- test: " + sampleIDs[1] + "\n  reason: no date\n- test: " + sampleIDs[2] + "\n  until: someday\n  reason: bad date\n"
	e := newEnv(t, quarantineConfigMap(bad), testRun("r1", withTests(sampleIDs...), withQuarantine))
	e.reconcileRun("r1")
	run := e.run("r1")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, "no until date")
	assert.Contains(t, run.Status.Message, `until "someday" is not a date`)
	assert.Len(t, strings.Split(run.Status.Message, "\n"), 2, "one line each: %s", run.Status.Message)
	assert.Empty(t, e.pods())

	e = newEnv(t, testRun("r2", withTests(sampleIDs...), withQuarantine))
	e.reconcileRun("r2")
	run = e.run("r2")
	assert.Equal(t, v1alpha1.RunError, run.Status.Phase)
	assert.Contains(t, run.Status.Message, "configmap sample-quarantine not found")
	assert.Empty(t, e.pods())
}

// TestRunListsQuarantinedTestsReadyToRelease: a quarantined test that
// passed in its last 5 recorded runs, this one included, gets an event
// saying it is ready to release; after 4 it does not.
func TestRunListsQuarantinedTestsReadyToRelease(t *testing.T) {
	yaml := "quarantine:\n- test: " + sampleIDs[0] + "\n  until: 2099-01-01\n  reason: was flaky\n"
	e := newEnv(t, quarantineConfigMap(yaml))
	for i := range 5 {
		name := "r" + string(rune('1'+i))
		run := testRun(name, withTests(sampleIDs...), withQuarantine, withHistory(strings.Repeat(string(rune('a'+i)), 40), ""))
		require.NoError(t, e.client.Create(context.Background(), run))
		e.now = e.now.Add(time.Minute)
		e.runTo(name, 0, 0, 0)
		ready := hasEvent(e.events(), "Normal ReadyToRelease ready to release from quarantine (passed in its last 5 runs): "+sampleIDs[0])
		assert.Equal(t, i == 4, ready, "run %d", i+1)
	}
}
