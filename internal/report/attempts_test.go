package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func retriedReport() *Report {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	evicted := attempt.Attempt{Number: 1, Pod: "p-1", Node: "n1", Started: t0, Finished: t0.Add(3 * time.Second),
		Outcome: plan.Outcome{Status: plan.Error, ExitCode: 143, Reason: plan.ReasonEvicted, Message: "the pod was evicted through the Eviction API\nmore"}}
	passed := attempt.Attempt{Number: 2, Pod: "p-2", Node: "n2", Started: t0.Add(5 * time.Second), Finished: t0.Add(7 * time.Second),
		Outcome: plan.Outcome{Status: plan.Passed}, Results: attempt.Results{Output: "test output\n"}}
	once := attempt.Attempt{Number: 1, Pod: "q-1", Started: t0, Finished: t0.Add(time.Second), Outcome: plan.Outcome{Status: plan.Passed}}
	return NewReport("r1", "img", "", t0, 10*time.Second, []CaseResult{
		{Case: plan.Case{ID: "a", TestID: "t.py::a"}, Status: plan.Passed, Final: true, Attempts: []attempt.Attempt{evicted, passed}},
		{Case: plan.Case{ID: "b", TestID: "t.py::b"}, Status: plan.Passed, Final: true, Attempts: []attempt.Attempt{once}},
		{Case: plan.Case{ID: "c", TestID: "t.py::c"}},
	})
}

func TestJUnitKeepsEveryAttempt(t *testing.T) {
	tcs := retriedReport().JUnit().Suites[0].Testcases
	a := tcs[0]
	want := map[string]string{
		"k8s-testrun.attempt.1.start":       "2026-03-01T10:00:00.000Z",
		"k8s-testrun.attempt.1.end":         "2026-03-01T10:00:03.000Z",
		"k8s-testrun.attempt.1.status":      "error",
		"k8s-testrun.attempt.1.reason":      "Evicted",
		"k8s-testrun.attempt.1.infra-retry": "true",
		"k8s-testrun.attempt.2.start":       "2026-03-01T10:00:05.000Z",
		"k8s-testrun.attempt.2.end":         "2026-03-01T10:00:07.000Z",
		"k8s-testrun.attempt.2.status":      "passed",
		junit.PropertyAttempt:               "2",
	}
	for name, v := range want {
		got, ok := a.Property(name)
		assert.True(t, ok, name)
		assert.Equal(t, v, got, name)
		if strings.HasSuffix(name, "start") || strings.HasSuffix(name, "end") {
			_, err := time.Parse(time.RFC3339, got)
			assert.NoError(t, err, "RFC 3339: %s", name)
		}
	}
	_, ok := a.Property("k8s-testrun.attempt.2.reason")
	assert.False(t, ok, "a pass has no reason")
	assert.Nil(t, a.Error, "the case passed in the end")
	require.NotNil(t, a.SystemOut)
	assert.Contains(t, a.SystemOut.Text, "k8s-testrun attempt 1: error Evicted (infrastructure retry) pod p-1 on n1, 2026-03-01T10:00:00.000Z to 2026-03-01T10:00:03.000Z: the pod was evicted through the Eviction API\n")
	assert.Contains(t, a.SystemOut.Text, "k8s-testrun attempt 2: passed pod p-2 on n2")
	assert.True(t, strings.HasSuffix(a.SystemOut.Text, "\ntest output\n"), "the last attempt's output follows")

	b := tcs[1]
	_, ok = b.Property("k8s-testrun.attempt.1.infra-retry")
	assert.False(t, ok, "no disruption, no infra retry")
	v, ok := b.Property("k8s-testrun.attempt.1.start")
	assert.True(t, ok)
	assert.Equal(t, "2026-03-01T10:00:00.000Z", v)
	assert.Nil(t, b.SystemOut, "one attempt adds nothing to system-out")
}

func TestWriteAttempts(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, retriedReport().WriteAttempts(&buf))
	assert.Equal(t, 1, strings.Count(buf.String(), "\n"), "one compact line")
	var doc struct {
		Run   string
		Tests []struct {
			Test, Status string
			Attempts     []struct {
				N                                        int
				Status, Reason, Start, End, Pod, Message string
				Infra                                    bool
				Exit                                     int32
			}
		}
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, "r1", doc.Run)
	require.Len(t, doc.Tests, 3)
	a := doc.Tests[0]
	assert.Equal(t, "t.py::a", a.Test)
	assert.Equal(t, "passed", a.Status)
	require.Len(t, a.Attempts, 2)
	assert.Equal(t, 1, a.Attempts[0].N)
	assert.Equal(t, "Evicted", a.Attempts[0].Reason)
	assert.True(t, a.Attempts[0].Infra)
	assert.Equal(t, int32(143), a.Attempts[0].Exit)
	assert.Equal(t, "2026-03-01T10:00:00.000Z", a.Attempts[0].Start)
	assert.Equal(t, "2026-03-01T10:00:03.000Z", a.Attempts[0].End)
	assert.Equal(t, "the pod was evicted through the Eviction API", a.Attempts[0].Message, "first line only")
	assert.False(t, a.Attempts[1].Infra)
	assert.Equal(t, "notrun", doc.Tests[2].Status)
	assert.Empty(t, doc.Tests[2].Attempts)
}

func TestJUnitInfraRetriesUsedUp(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	gone := func(n int) attempt.Attempt {
		return attempt.Attempt{Number: n, Pod: "p", Started: t0, Finished: t0.Add(time.Second),
			Outcome: plan.Outcome{Status: plan.Error, ExitCode: -1, Reason: plan.ReasonNodeLost, Message: "node gone"}}
	}
	rep := NewReport("r1", "img", "", t0, time.Second, []CaseResult{
		{Case: plan.Case{ID: "a", TestID: "t.py::a"}, Status: plan.Error, Final: true, Attempts: []attempt.Attempt{gone(1), gone(2)}},
	})
	tc := rep.JUnit().Suites[0].Testcases[0]
	require.NotNil(t, tc.Error, "an infrastructure error")
	assert.Equal(t, plan.ReasonNodeLost, tc.Error.Type)
	v1, _ := tc.Property("k8s-testrun.attempt.1.infra-retry")
	v2, _ := tc.Property("k8s-testrun.attempt.2.infra-retry")
	assert.Equal(t, "true", v1)
	assert.Equal(t, "exhausted", v2)
	assert.Contains(t, tc.SystemOut.Text, "k8s-testrun attempt 1: error NodeLost (infrastructure retry)")
	assert.Contains(t, tc.SystemOut.Text, "k8s-testrun attempt 2: error NodeLost (infrastructure retries used up)")
	assert.Equal(t, 2, rep.ExitCode(0, 1, 2))
}
