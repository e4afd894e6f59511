package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func done(name string, attempt int, o Outcome) Pod {
	return Pod{Name: name, CaseID: "a", Attempt: attempt, Done: true, Collected: true, Deleting: true, Outcome: o}
}

func TestDisrupted(t *testing.T) {
	for _, r := range []string{ReasonEvicted, ReasonPreempted, ReasonNodeLost, ReasonKubelet, ReasonPodDeleted} {
		assert.True(t, Outcome{Status: Error, Reason: r}.Disrupted(), r)
	}
	for _, o := range []Outcome{
		{Status: Error, Reason: "Killed"},
		{Status: Error, Reason: "OOMKilled"},
		{Status: Error, Reason: "DeadlineExceeded"},
		{Status: Failed},
		{Status: Passed, Reason: ReasonEvicted},
	} {
		assert.False(t, o.Disrupted(), o)
	}
}

// TestInfraRetriesAreSeparate: disrupted attempts run again up to
// InfraRetries whatever MaxAttempts says, and take nothing from the test
// retries.
func TestInfraRetriesAreSeparate(t *testing.T) {
	evicted := Outcome{Status: Error, ExitCode: 143, Reason: ReasonEvicted, Message: "evicted"}
	deleted := Outcome{Status: Error, ExitCode: -1, Reason: ReasonPodDeleted}
	killed := Outcome{Status: Error, ExitCode: 143, Reason: "Killed"}
	failed := Outcome{Status: Failed, ExitCode: 1}
	passed := Outcome{Status: Passed}
	tests := []struct {
		name   string
		spec   Spec
		pods   []Pod
		want   []string
		done   bool
		status Status
		flaky  bool
	}{
		{
			name: "a disrupted attempt runs again without test retries",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 1, InfraRetries: 2},
			pods: []Pod{done("p1", 1, evicted)},
			want: []string{"create t.py::a attempt 2"},
		},
		{
			name: "two disruptions, then the last infra retry",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 1, InfraRetries: 2},
			pods: []Pod{done("p1", 1, evicted), done("p2", 2, deleted)},
			want: []string{"create t.py::a attempt 3"},
		},
		{
			name: "infra retries exhausted: an infrastructure error, every attempt kept",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 3, InfraRetries: 2},
			pods: []Pod{done("p1", 1, evicted), done("p2", 2, deleted), done("p3", 3, evicted)},
			want: []string{}, done: true, status: Error,
		},
		{
			name: "no infra retries: the disruption is final",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 3, InfraRetries: 0},
			pods: []Pod{done("p1", 1, evicted)},
			want: []string{}, done: true, status: Error,
		},
		{
			name: "a pass after a disruption is not flaky",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 1, InfraRetries: 2},
			pods: []Pod{done("p1", 1, evicted), done("p2", 2, passed)},
			want: []string{}, done: true, status: Passed,
		},
		{
			name: "a disruption does not use up a test retry",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 2, InfraRetries: 1},
			pods: []Pod{done("p1", 1, failed), done("p2", 2, evicted)},
			want: []string{"create t.py::a attempt 3"},
		},
		{
			name: "test retries after a disruption still count only test attempts",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 2, InfraRetries: 1},
			pods: []Pod{done("p1", 1, evicted), done("p2", 2, failed)},
			want: []string{"create t.py::a attempt 3"},
		},
		{
			name: "test attempts used up after a disruption",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 2, InfraRetries: 1},
			pods: []Pod{done("p1", 1, failed), done("p2", 2, evicted), done("p3", 3, failed)},
			want: []string{}, done: true, status: Failed,
		},
		{
			name: "fail, disruption, pass is flaky",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 2, InfraRetries: 1},
			pods: []Pod{done("p1", 1, failed), done("p2", 2, evicted), done("p3", 3, passed)},
			want: []string{}, done: true, status: Passed, flaky: true,
		},
		{
			name: "a test killed by a signal is the test's, not retried as infra",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 1, InfraRetries: 2},
			pods: []Pod{done("p1", 1, killed)},
			want: []string{}, done: true, status: Error,
		},
		{
			name: "negative infra retries mean none",
			spec: Spec{Cases: []Case{a}, MaxAttempts: 1, InfraRetries: -1},
			pods: []Pod{done("p1", 1, evicted)},
			want: []string{}, done: true, status: Error,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Next(tt.spec, tt.pods)
			assert.Equal(t, tt.want, kinds(d.Actions))
			assert.Equal(t, tt.done, d.Done)
			require.Len(t, d.Cases, 1)
			assert.Len(t, d.Cases[0].Attempts, len(tt.pods), "every attempt is kept")
			if tt.done {
				assert.Equal(t, tt.status, d.Cases[0].Status())
				assert.Equal(t, tt.flaky, d.Cases[0].Flaky())
			}
		})
	}
}

// TestInfraRetriesInUnits: in a unit's pod, the disrupted case runs again
// in the unit's next pod, the finished cases keep their verdicts.
func TestInfraRetriesInUnits(t *testing.T) {
	file := Unit{ID: "f", Cases: []string{"a", "b", "c"}}
	spec := Spec{Cases: []Case{a, b, c}, Units: []Unit{file}, Parallelism: 1, MaxAttempts: 1, InfraRetries: 1}
	pods := []Pod{{Name: "f1", CaseID: "f", Attempt: 1, Cases: []string{"a", "b", "c"}, Done: true, Collected: true, Deleting: true,
		Outcome:  Outcome{Status: Error, Reason: ReasonPreempted},
		Outcomes: map[string]Outcome{"a": {Status: Passed}, "b": {Status: Error, Reason: ReasonPreempted}}}}
	d := Next(spec, pods)
	assert.Equal(t, []string{"create f [t.py::b t.py::c] attempt 2"}, kinds(d.Actions))
}
