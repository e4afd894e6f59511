// Package plan decides what a run does next. It is a pure function of the
// run's specification and the pods observed in the cluster, so the in-process
// runner and the operator drive the same logic, a restarted driver carries on
// from what the cluster shows, and most of the behaviour is unit tested here
// without a cluster.
package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// Status is the verdict on one attempt or one test case; it is JUnit's.
type Status = junit.Status

// The verdicts a case can end with. Error covers both a test error (an
// exception in a fixture) and an infrastructure failure; Outcome.Reason tells
// them apart.
const (
	Passed  = junit.StatusPassed
	Failed  = junit.StatusFailed
	Error   = junit.StatusError
	Skipped = junit.StatusSkipped
)

// Case is one test to run.
type Case struct {
	// ID is a short, label-safe hash of TestID.
	ID string
	// TestID is pytest's node id.
	TestID string
	// Faketime, when set, is the FAKETIME the test runs under (libfaketime):
	// its own @pytest.mark.faketime, else the run's. Only cases with the
	// same value share a pod.
	Faketime string
	// Lane is the test's execution policy (LaneSerial, ...), from its
	// markers; LaneDefault runs it in parallel. Only cases of one lane
	// share a unit, and cases of exclusive lanes have units of their own.
	Lane string
	// Base is the index of the case's base image in a runtime matrix,
	// where every test runs once per base; 0 outside one. Image is the
	// test image built on that base; empty means the run's one image.
	// Only cases of one base share a unit (GroupBases).
	Base  int
	Image string
}

// Unit is a group of cases that one pod runs: a file, a class or a shard.
// A pod of a unit runs those of its cases that are ready when it is
// created, in the unit's order; cases a pod did not reach go to the next pod
// of the same unit.
type Unit struct {
	// ID is label-safe; it names the unit's pods.
	ID string
	// Cases are case IDs, in the order the pod runs them.
	Cases []string
}

// Spec is what the run must do.
type Spec struct {
	Cases []Case
	// Units group the cases into pods, in the order they start. Nil means
	// one unit per case, with the case's ID, in the order of Cases; a case
	// that no unit names runs alone.
	Units []Unit
	// Parallelism caps the pods that run at once; below 1 means 1.
	Parallelism int
	// MaxAttempts is how often a failing case runs at most; below 1 means 1.
	MaxAttempts int
	// MaxFailures stops the run once this many cases have finally failed
	// or errored: no pod is created any more, the running ones are
	// deleted, and the cases without a verdict end Stopped. Zero means no
	// limit. With a limit, a finished pod holds its parallelism slot until
	// it is collected, so that no pod starts that its verdict would stop.
	MaxFailures int
	// Excused are the IDs of the cases whose failure a quarantine excuses:
	// they still run and retry, but their final failures do not count
	// towards MaxFailures, as they do not fail the run.
	Excused map[string]bool
	// Stop is a stop decided over a wider view than this spec's (the
	// operator evaluates each test alone once its run has stopped): it
	// acts as a reached MaxFailures.
	Stop bool
	// InfraRetries is how often a case whose attempt was disrupted (see
	// Disrupted) runs again; disrupted attempts never count against
	// MaxAttempts. Below 0 means 0.
	InfraRetries int
	// FlakyAttempts is how often a case of LaneFlaky runs at most, when
	// above MaxAttempts.
	FlakyAttempts int

	// index is what Next derives from the cases and units, once Prepare
	// has run; without it every evaluation derives it again.
	index *index
}

type index struct {
	units  []Unit
	unitOf map[string]string
	byID   map[string]Case
}

func (s Spec) derive() *index {
	if s.index != nil {
		return s.index
	}
	units, unitOf := unitsOf(s)
	byID := make(map[string]Case, len(s.Cases))
	for _, c := range s.Cases {
		byID[c.ID] = c
	}
	// Slow units start first; serial and disruptive ones come last.
	slices.SortStableFunc(units, func(a, b Unit) int {
		return cmp.Compare(startRank(unitLane(a, byID)), startRank(unitLane(b, byID)))
	})
	return &index{units: units, unitOf: unitOf, byID: byID}
}

// Outcome is what became of one attempt.
type Outcome struct {
	Status Status
	// ExitCode is the test container's exit code, or -1 when it never ran to
	// an exit.
	ExitCode int32
	// Reason names an infrastructure cause (OOMKilled, DeadlineExceeded,
	// ImagePullBackOff, Unschedulable, ...); empty for a plain test result.
	Reason  string
	Message string
}

// Reasons of disrupted attempts: the infrastructure took the pod away
// before the test could finish, so the attempt says nothing of the test.
const (
	// ReasonEvicted: evicted through the Eviction API or by the kubelet
	// under node pressure.
	ReasonEvicted = "Evicted"
	// ReasonPreempted: preempted by the scheduler for a pod of higher
	// priority.
	ReasonPreempted = "Preempted"
	// ReasonNodeLost: the pod's node went away or became unreachable (the
	// taint manager, the pod garbage collector, NodeLost).
	ReasonNodeLost = "NodeLost"
	// ReasonKubelet: the kubelet ended the pod (node shutdown, a pod
	// rejected on admission after a kubelet restart).
	ReasonKubelet = "TerminatedByKubelet"
	// ReasonPodDeleted: the pod was deleted by someone other than the
	// driver of the run.
	ReasonPodDeleted = "PodDeleted"
)

// Disrupted reports an outcome the infrastructure caused by taking the pod
// away: such an attempt runs again (up to Spec.InfraRetries) and never
// counts as the test's failure.
func (o Outcome) Disrupted() bool {
	switch o.Reason {
	case ReasonEvicted, ReasonPreempted, ReasonNodeLost, ReasonKubelet, ReasonPodDeleted:
		return o.Status == Error
	}
	return false
}

// Pod is one observed pod: one attempt of each case it runs.
type Pod struct {
	Name string
	// CaseID is the ID of the pod's unit; for a pod of one test, the case's.
	CaseID string
	// Attempt numbers the pods of the unit, from 1.
	Attempt int
	// Cases are the IDs of the cases the pod runs; nil means CaseID alone.
	Cases []string
	// Done means the attempt has an outcome: the pod finished or is stuck
	// past recovery.
	Done bool
	// Collected means its results were read and its Outcome is final.
	Collected bool
	// Deleting means the pod is gone or its deletion was already asked for;
	// a driver keeps reporting a collected pod after deleting it so that its
	// outcome still counts.
	Deleting bool
	// Gone means the pod no longer exists in the API (not even
	// terminating). Exclusive lanes wait for every other pod to be gone.
	Gone bool
	// Outcome is the pod's own: for a pod of one test, the case's.
	Outcome Outcome
	// Outcomes, once Collected, hold the outcome of each case that ran; a
	// case missing from it did not run and goes to the unit's next pod. Nil
	// gives Outcome to every case of the pod, and so does an empty map: a
	// pod in which no case ran tells nothing case by case, and every pod
	// must settle at least one case, or a pod that always dies would be
	// created forever.
	Outcomes map[string]Outcome
}

// CaseIDs are the IDs of the cases the pod runs.
func (p Pod) CaseIDs() []string {
	if p.Cases == nil {
		return []string{p.CaseID}
	}
	return p.Cases
}

// outcome is what the collected pod says of one of its cases.
func (p Pod) outcome(caseID string) (Outcome, bool) {
	if len(p.Outcomes) == 0 {
		return p.Outcome, true
	}
	o, ok := p.Outcomes[caseID]
	return o, ok
}

// ActionKind names what to do with a case or a pod.
type ActionKind string

// The actions a run takes.
const (
	Create  ActionKind = "create"
	Collect ActionKind = "collect"
	Delete  ActionKind = "delete"
)

// Action is one step for the driver to carry out.
type Action struct {
	Kind ActionKind
	// Case is the first (for a pod of one test, the only) case of Cases.
	Case Case
	// Cases are what a created pod runs, in order.
	Cases []Case
	// Unit is the ID of the unit of a created pod.
	Unit string
	// Attempt numbers the created pod among its unit's; for a pod of one
	// test, the attempt of its case.
	Attempt int
	// Pod names the pod for Collect and Delete.
	Pod string
}

func (a Action) String() string {
	if a.Pod != "" {
		return fmt.Sprintf("%s %s", a.Kind, a.Pod)
	}
	if len(a.Cases) > 1 || (len(a.Cases) == 1 && a.Unit != a.Case.ID) {
		ids := make([]string, len(a.Cases))
		for i, c := range a.Cases {
			ids[i] = c.TestID
		}
		return fmt.Sprintf("%s %s [%s] attempt %d", a.Kind, a.Unit, strings.Join(ids, " "), a.Attempt)
	}
	return fmt.Sprintf("%s %s attempt %d", a.Kind, a.Case.TestID, a.Attempt)
}

// CaseState is the standing of one case, derived from its pods.
type CaseState struct {
	Case Case
	// Attempts are the collected outcomes, in attempt order.
	Attempts []Outcome
	// Final is true when no further attempt will run.
	Final bool
	// Stopped marks a case that the run stopped (Spec.MaxFailures) before
	// it had a verdict; its Attempts are those that ran before.
	Stopped bool
}

// Status is the case's verdict once Final: the last attempt's status, so a
// case that failed and then passed counts as passed (and as Flaky).
func (s CaseState) Status() Status {
	if len(s.Attempts) == 0 {
		return ""
	}
	return s.Attempts[len(s.Attempts)-1].Status
}

// Flaky reports a case that failed at least once and then passed. A
// disrupted attempt is no failure of the test's.
func (s CaseState) Flaky() bool {
	if s.Status() != Passed {
		return false
	}
	for _, o := range s.Attempts[:len(s.Attempts)-1] {
		if (o.Status == Failed || o.Status == Error) && !o.Disrupted() {
			return true
		}
	}
	return false
}

// Disruptions counts the case's disrupted attempts.
func (s CaseState) Disruptions() int {
	n := 0
	for _, o := range s.Attempts {
		if o.Disrupted() {
			n++
		}
	}
	return n
}

// retry says whether the case runs again: a disrupted last attempt while
// infrastructure retries remain, a failed one while test attempts remain.
// Disrupted attempts take nothing from the test attempts.
func (s CaseState) retry(maxAttempts, infraRetries int) bool {
	if len(s.Attempts) == 0 {
		return true
	}
	disrupted := s.Disruptions()
	if s.Attempts[len(s.Attempts)-1].Disrupted() {
		return disrupted <= infraRetries
	}
	return needsRetry(s.Status()) && len(s.Attempts)-disrupted < maxAttempts
}

// Decision is the result of one evaluation.
type Decision struct {
	Actions []Action
	Cases   []CaseState
	// Done is true when every case is final and every pod is collected.
	Done bool
	// Stopped is true once Spec.MaxFailures cases have failed.
	Stopped bool
}

// Next evaluates the spec against the observed pods. Actions come in a
// stable order: collections first (they free results), then deletions, then
// creations in the order of Spec.Units.
func Next(spec Spec, pods []Pod) Decision {
	pl := NewPlanner(spec)
	d := pl.Next(pods)
	d.Cases = pl.Cases()
	return d
}

// unitsOf gives the spec's units, with a unit of its own for every case that
// none names, and the unit of each case (its first, should two name it).
func unitsOf(spec Spec) ([]Unit, map[string]string) {
	unitOf := make(map[string]string, len(spec.Cases))
	units := make([]Unit, 0, len(spec.Units))
	for _, u := range spec.Units {
		for _, id := range u.Cases {
			if _, ok := unitOf[id]; !ok {
				unitOf[id] = u.ID
			}
		}
		units = append(units, u)
	}
	for _, c := range spec.Cases {
		if _, ok := unitOf[c.ID]; !ok {
			unitOf[c.ID] = c.ID
			units = append(units, Unit{ID: c.ID, Cases: []string{c.ID}})
		}
	}
	return units, unitOf
}

// firstCase is the case an action on p names: its first one the spec knows.
func firstCase(byID map[string]Case, p Pod) Case {
	for _, id := range p.CaseIDs() {
		if c, ok := byID[id]; ok {
			return c
		}
	}
	return Case{ID: p.CaseID}
}

// unitLane is the lane of a unit's cases: that of its first.
func unitLane(u Unit, byID map[string]Case) string {
	if len(u.Cases) == 0 {
		return LaneDefault
	}
	return byID[u.Cases[0]].Lane
}

// attemptsOf is how often c runs at most.
func attemptsOf(c Case, maxAttempts, flakyAttempts int) int {
	if c.Lane == LaneFlaky {
		return max(maxAttempts, flakyAttempts)
	}
	return maxAttempts
}

func needsRetry(s Status) bool { return s == Failed || s == Error }
