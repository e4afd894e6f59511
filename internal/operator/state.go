package operator

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// Names, labels and annotations of what the operator creates.
const (
	// AnnotationLinger holds how long a test pod's collector keeps the pod
	// after shipping, in seconds. The collector reads it through a downward
	// API volume; the operator writes "0" to end a linger early.
	AnnotationLinger = "k8s-testrun.io/linger"
	// AnnotationAttempt, on a results ConfigMap, is the attempt it holds.
	AnnotationAttempt = "k8s-testrun.io/attempt"

	// RoleResults and RoleReport label the ConfigMaps of a run.
	RoleResults = "results"
	RoleReport  = "report"
	// RoleCollection labels the ConfigMap of what pytest's collection
	// skipped.
	RoleCollection = "collection"
	// CollectionKey is its binaryData key: pytest's testcases, as JSON,
	// gzipped.
	CollectionKey = "skipped.json.gz"

	// ResultsKey is the binaryData key of a results ConfigMap: the
	// collector's log, gzipped.
	ResultsKey = "results.gz"
	// ReportKey and ReportKeyGzip are the keys of the report ConfigMap.
	ReportKey     = "junit.xml"
	ReportKeyGzip = "junit.xml.gz"

	// maxMessage bounds a message kept in a status; pytest's full text
	// stays in the stored results.
	maxMessage = 4096
)

// TestCaseName names the TestCase of one test of a run.
func TestCaseName(run, caseID string) string { return run + "-" + caseID }

// ResultsName names the ConfigMap that keeps a TestCase's last results.
func ResultsName(testCase string) string { return testCase + "-results" }

// ReportName names the ConfigMap that keeps a run's merged JUnit report.
func ReportName(run string) string { return run + "-report" }

// CollectionName names the ConfigMap that keeps what a run's collection
// skipped.
func CollectionName(run string) string { return run + "-collection" }

// DiscoveryPodName names a run's discovery pod; k8s.OneOffPod derives it
// from the run id and the role.
func DiscoveryPodName(run string) string { return "ktr-" + run + "-discover" }

// CaseOf is the plan's view of a TestCase.
func CaseOf(tc *v1alpha1.TestCase) plan.Case {
	base := int(tc.Spec.Base)
	return plan.Case{ID: testid.BaseCaseID(tc.Spec.TestID, base), TestID: tc.Spec.TestID, Faketime: tc.Spec.Faketime, Lane: tc.Spec.Lane,
		Base: base, Image: tc.Spec.Image}
}

// basesOf are the run's bases: those of its runtime matrix, else one, its
// Image, with no name.
func basesOf(run *v1alpha1.TestRun) []v1alpha1.MatrixBase {
	if len(run.Spec.Bases) > 0 {
		return run.Spec.Bases
	}
	return []v1alpha1.MatrixBase{{Image: run.Spec.Image}}
}

// baseSuffix tells apart the objects of a matrix's bases past the first;
// the first base's have the names of a run of one base.
func baseSuffix(base int) string {
	if base == 0 {
		return ""
	}
	return fmt.Sprintf("-b%d", base)
}

// CollectionNameOf names the collection ConfigMap of a base of the run.
func CollectionNameOf(run string, base int) string { return CollectionName(run) + baseSuffix(base) }

// DiscoveryPodNameOf names the discovery pod of a base of the run.
func DiscoveryPodNameOf(run string, base int) string { return DiscoveryPodName(run) + baseSuffix(base) }

func outcomeOf(a v1alpha1.Attempt) plan.Outcome {
	return plan.Outcome{Status: plan.Status(a.Status), ExitCode: a.ExitCode, Reason: a.Reason, Message: a.Message}
}

// record turns a collected attempt into its status entry.
func record(at attempt.Attempt) v1alpha1.Attempt {
	a := v1alpha1.Attempt{
		Number:   int32(at.Number),
		Pod:      at.Pod,
		PodUID:   at.PodUID,
		Node:     at.Node,
		Status:   string(at.Outcome.Status),
		ExitCode: at.Outcome.ExitCode,
		Reason:   at.Outcome.Reason,
		Message:  truncate(at.Outcome.Message, maxMessage),
	}
	if !at.Started.IsZero() {
		a.StartTime = &metav1.Time{Time: at.Started}
	}
	if !at.Finished.IsZero() {
		a.FinishTime = &metav1.Time{Time: at.Finished}
	}
	if !at.Started.IsZero() && !at.Finished.Before(at.Started) {
		a.Duration = &metav1.Duration{Duration: at.Finished.Sub(at.Started).Round(time.Millisecond)}
	}
	if at.ResultErr != nil {
		a.ResultsError = truncate(at.ResultErr.Error(), maxMessage)
	}
	return a
}

// AttemptOf turns a status entry back into the runner's attempt, without
// its results.
func AttemptOf(a v1alpha1.Attempt) attempt.Attempt {
	at := attempt.Attempt{Number: int(a.Number), Pod: a.Pod, PodUID: a.PodUID, Node: a.Node, Outcome: outcomeOf(a)}
	if a.StartTime != nil {
		at.Started = a.StartTime.Time
	}
	if a.FinishTime != nil {
		at.Finished = a.FinishTime.Time
	}
	if a.Duration != nil && a.StartTime != nil {
		// The times are kept to the second, the duration to the millisecond.
		at.Finished = at.Started.Add(a.Duration.Duration)
	}
	if a.ResultsError != "" {
		at.ResultErr = errors.New(a.ResultsError)
	}
	return at
}

// lastRecorded is the number of the latest recorded attempt, 0 for none.
func lastRecorded(tc *v1alpha1.TestCase) int {
	n := 0
	for _, a := range tc.Status.History {
		n = max(n, int(a.Number))
	}
	return n
}

// observed merges a test's recorded attempts with its live pods into the
// plan's view. A recorded attempt counts as collected whatever its pod
// shows; one whose pod is gone counts as deleting, so plan.Next neither
// collects nor deletes it again, yet still counts its outcome.
func observed(tc *v1alpha1.TestCase, pods []*corev1.Pod, now time.Time, opts k8s.ObserveOptions) []plan.Pod {
	c := CaseOf(tc)
	recorded := make(map[int]v1alpha1.Attempt, len(tc.Status.History))
	for _, a := range tc.Status.History {
		recorded[int(a.Number)] = a
	}
	seen := map[int]bool{}
	out := make([]plan.Pod, 0, len(pods)+len(recorded))
	for _, p := range pods {
		o := k8s.Observe(p, now, opts)
		if o.Attempt < 1 {
			continue
		}
		o.CaseID = c.ID
		if a, ok := recorded[o.Attempt]; ok {
			seen[o.Attempt] = true
			o.Done, o.Collected, o.Outcome = true, true, outcomeOf(a)
		}
		out = append(out, o)
	}
	for n, a := range recorded {
		if !seen[n] {
			// Not listed: the pod is gone, which the exclusive lanes wait for.
			out = append(out, plan.Pod{Name: a.Pod, CaseID: c.ID, Attempt: n, Done: true, Collected: true, Deleting: true, Gone: true, Outcome: outcomeOf(a)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attempt < out[j].Attempt })
	return out
}

// controlledBy reports whether owner is obj's controller.
func controlledBy(obj metav1.Object, owner types.UID) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == owner
}

// casePhase is the phase of a test whose standing is st, none while it
// waits for its first pod; active says a pod of it is running.
func casePhase(st plan.CaseState, active bool) v1alpha1.TestCasePhase {
	if st.Stopped && len(st.Attempts) == 0 {
		return v1alpha1.CaseNotRun
	}
	if st.Final {
		switch st.Status() {
		case plan.Passed:
			return v1alpha1.CasePassed
		case plan.Failed:
			return v1alpha1.CaseFailed
		case plan.Skipped:
			return v1alpha1.CaseSkipped
		default:
			return v1alpha1.CaseError
		}
	}
	if active || len(st.Attempts) > 0 {
		return v1alpha1.CaseRunning
	}
	// Waiting for a slot: no phase, so a new TestCase needs no status
	// write before its pod runs.
	return ""
}

// sortCases orders a run's TestCases as discovery listed the tests.
func sortCases(cases []*v1alpha1.TestCase) {
	sort.SliceStable(cases, func(i, j int) bool {
		if cases[i].Spec.Base != cases[j].Spec.Base {
			return cases[i].Spec.Base < cases[j].Spec.Base
		}
		if cases[i].Spec.Index != cases[j].Spec.Index {
			return cases[i].Spec.Index < cases[j].Spec.Index
		}
		return cases[i].Spec.TestID < cases[j].Spec.TestID
	})
}

// podAttempt reads a pod's attempt label.
func podAttempt(p *corev1.Pod) int {
	n, _ := strconv.Atoi(p.Labels[k8s.LabelAttempt])
	return n
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
