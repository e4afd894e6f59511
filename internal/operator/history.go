package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// RoleHistory labels a history ConfigMap; like the durations, it belongs
// to no run.
const RoleHistory = "history"

// maxNewFailureTests bounds the test ids the status lists.
const maxNewFailureTests = 20

// remember compares a finished run with its base in the history
// ConfigMap (spec.history), sets status.comparison and the Compared
// condition, and records the run under its commit. Runs of one project may
// finish together: a conflict reads the history again. A history it
// cannot read (a newer version's, a damaged record) is reported and left
// alone; the run's verdict never depends on it.
func (r *TestRunReconciler) remember(ctx context.Context, run *v1alpha1.TestRun, rep *report.Report, st *v1alpha1.TestRunStatus) {
	h := run.Spec.History
	if h == nil || rep == nil {
		return
	}
	tests := history.TestsOf(rep)
	var err error
	for range 3 {
		if err = r.rememberOnce(ctx, run, h, tests, rep, st); !kerrors.IsConflict(err) && !kerrors.IsAlreadyExists(err) {
			break
		}
	}
	if err == nil {
		return
	}
	reason := "HistoryNotSaved"
	var fe *history.FormatError
	if errors.As(err, &fe) || errors.Is(err, errUnreadable) {
		reason = "HistoryUnreadable"
	}
	msg := truncate(fmt.Sprintf("configmap %s: %s", h.ConfigMap, err), maxMessage)
	logf.FromContext(ctx).Error(err, "keeping the history", "testrun", run.Name, "configmap", h.ConfigMap)
	r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, reason, "History", "%s", msg)
	if st.Comparison == nil {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionCompared, Status: metav1.ConditionFalse, Reason: reason, Message: msg})
	}
}

var errUnreadable = errors.New("unreadable")

func (r *TestRunReconciler) rememberOnce(ctx context.Context, run *v1alpha1.TestRun, h *v1alpha1.HistorySpec, tests []history.Test, rep *report.Report, st *v1alpha1.TestRunStatus) error {
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: h.ConfigMap}, cm)
	exists := err == nil
	if err != nil && !kerrors.IsNotFound(err) {
		return err
	}
	if exists && cm.Labels[k8s.LabelRole] != RoleHistory {
		return fmt.Errorf("%w: it exists and is no history (label %s=%s)", errUnreadable, k8s.LabelRole, RoleHistory)
	}
	recs, err := history.Unpack(cm.BinaryData)
	if err != nil {
		if errors.As(err, new(*history.FormatError)) {
			return err
		}
		return fmt.Errorf("%w: %w", errUnreadable, err)
	}
	compare(recs, h, tests, st)
	if h.Commit == "" {
		r.readyToRelease(run, rep, tests, recs)
		return nil
	}
	// No footprints nor base image digest: the operator runs no coverage,
	// so --affected-since finds nothing to leave out in this record.
	rec := history.NewRecord(h.Commit, h.Branch, rep.Started, tests)
	data, dropped, err := history.Pack(recs.With(rec), maxStored)
	if err != nil {
		return err
	}
	if _, kept := data[h.Commit+history.PackedSuffix]; !kept {
		return fmt.Errorf("the record of %s is larger than a ConfigMap holds; not recorded", h.Commit)
	}
	if !exists {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: h.ConfigMap, Namespace: run.Namespace}}
	}
	cm.Labels = map[string]string{k8s.LabelManagedBy: k8s.ManagedBy, k8s.LabelRole: RoleHistory}
	cm.BinaryData = data
	if exists {
		err = r.Client.Update(ctx, cm)
	} else {
		err = r.Client.Create(ctx, cm)
	}
	if err != nil {
		return err
	}
	logf.FromContext(ctx).V(1).Info("recorded the run", "configmap", h.ConfigMap, "commit", h.Commit, "records", len(data), "pruned", len(dropped))
	r.readyToRelease(run, rep, tests, recs.With(rec))
	return nil
}

// compare sets the comparison with the base, or says why there is none.
func compare(recs history.Records, h *v1alpha1.HistorySpec, tests []history.Test, st *v1alpha1.TestRunStatus) {
	ref := h.CompareTo
	if ref == "" {
		ref = h.Branch
	}
	base, ok := history.Record{}, false
	if ref != "" {
		base, ok = recs.Resolve(ref, h.Commit)
	}
	if !ok {
		st.Comparison = nil
		why := "no base to compare with: give spec.history.compareTo or branch"
		switch {
		case h.CompareTo != "":
			why = fmt.Sprintf("%s is not recorded in configmap %s; nothing to compare with", h.CompareTo, h.ConfigMap)
		case h.Branch != "":
			why = fmt.Sprintf("no earlier run of branch %s is recorded in configmap %s; nothing to compare with", h.Branch, h.ConfigMap)
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionCompared, Status: metav1.ConditionFalse, Reason: "NoBase", Message: why})
		return
	}
	c := history.Compare(tests, base)
	cs := &v1alpha1.ComparisonStatus{Base: c.Base, Branch: c.Branch,
		NewFailures: int32(len(c.NewFailures)), Fixed: int32(len(c.Fixed)), StillFailing: int32(len(c.StillFailing)),
		NewFlaky: int32(len(c.NewFlaky)), NewTests: int32(len(c.NewTests)), FailingNewTests: int32(len(c.FailingNewTests)),
		RemovedTests: int32(len(c.RemovedTests)), Slower: int32(len(c.Slower)),
	}
	for _, id := range c.NewFailures[:min(len(c.NewFailures), maxNewFailureTests)] {
		cs.NewFailureTests = append(cs.NewFailureTests, truncate(id, 1024))
	}
	st.Comparison = cs
	base12 := c.Base[:min(12, len(c.Base))]
	if c.Branch != "" {
		base12 += " (" + c.Branch + ")"
	}
	msg := fmt.Sprintf("compared with %s: %d new failures, %d fixed, %d still failing, %d new flaky, %d new tests, %d removed, %d slower",
		base12, cs.NewFailures, cs.Fixed, cs.StillFailing, cs.NewFlaky, cs.NewTests, cs.RemovedTests, cs.Slower)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionCompared, Status: metav1.ConditionTrue, Reason: "Compared", Message: truncate(strings.ToValidUTF8(msg, ""), maxMessage)})
}

// readyToRelease gives each quarantined test that passed in its last
// history.ReadyRuns recorded runs an event saying it is ready to leave
// the quarantine.
func (r *TestRunReconciler) readyToRelease(run *v1alpha1.TestRun, rep *report.Report, tests []history.Test, recs history.Records) {
	if rep.Quarantine == nil {
		return
	}
	var quarantined []string
	for _, t := range tests {
		if _, ok := rep.Quarantine.Excuses(t.ID, rep.Started); ok {
			quarantined = append(quarantined, t.ID)
		}
	}
	for i, id := range recs.PassedInLast(quarantined, history.ReadyRuns) {
		if i == maxNewFailureTests {
			break
		}
		r.Recorder.Eventf(run, nil, corev1.EventTypeNormal, "ReadyToRelease", "Quarantine",
			"ready to release from quarantine (passed in its last %d runs): %s", history.ReadyRuns, truncate(id, 1024))
	}
}
