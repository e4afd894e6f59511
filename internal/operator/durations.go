package operator

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// DurationsKey is the key of a durations ConfigMap: the tests' durations,
// in the format of the durations file of direct mode.
const DurationsKey = "durations.json"

// RoleDurations labels a durations ConfigMap; it belongs to no run, as it
// outlives them.
const RoleDurations = "durations"

// loadDurations reads the run's timing history. A ConfigMap that is not
// there yet is an empty history; one that cannot be read is reported on
// the run and taken as empty: a history only orders the work.
func (r *TestRunReconciler) loadDurations(ctx context.Context, run *v1alpha1.TestRun) map[string]time.Duration {
	name := run.Spec.DurationsConfigMap
	if name == "" {
		return nil
	}
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: name}, cm)
	if kerrors.IsNotFound(err) {
		return nil
	}
	if err == nil && cm.Data[DurationsKey] == "" {
		return nil
	}
	var past map[string]time.Duration
	if err == nil {
		past, err = history.Decode([]byte(cm.Data[DurationsKey]))
	}
	if err != nil {
		r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, "DurationsUnreadable", "LoadDurations",
			"configmap %s, key %s: %s; the tests run without their history", name, DurationsKey, truncate(err.Error(), 500))
		return nil
	}
	return past
}

// saveDurations adds the run's durations to its timing history, creating
// the ConfigMap if need be. Runs of one project may finish together: a
// conflict reads the history again.
func (r *TestRunReconciler) saveDurations(ctx context.Context, run *v1alpha1.TestRun, cases []*v1alpha1.TestCase) error {
	name := run.Spec.DurationsConfigMap
	if name == "" {
		return nil
	}
	ran := map[string]time.Duration{}
	for _, tc := range cases {
		if n := len(tc.Status.History); n > 0 {
			if d, ok := attemptDuration(tc.Status.History[n-1]); ok {
				ran[tc.Spec.TestID] = d
			}
		}
	}
	if len(ran) == 0 {
		return nil
	}
	var err error
	for range 3 {
		if err = r.mergeDurations(ctx, run.Namespace, name, ran); !kerrors.IsConflict(err) && !kerrors.IsAlreadyExists(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("updating the durations in configmap %s: %w", name, err)
	}
	logf.FromContext(ctx).V(1).Info("saved durations", "configmap", name, "tests", len(ran))
	return nil
}

func (r *TestRunReconciler) mergeDurations(ctx context.Context, namespace, name string, ran map[string]time.Duration) error {
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm)
	if kerrors.IsNotFound(err) {
		b, err := history.Encode(nil, ran)
		if err != nil {
			return err
		}
		return r.Client.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
				k8s.LabelManagedBy: k8s.ManagedBy, k8s.LabelRole: RoleDurations,
			}},
			Data: map[string]string{DurationsKey: string(b)},
		})
	}
	if err != nil {
		return err
	}
	past, err := history.Decode([]byte(cm.Data[DurationsKey]))
	if err != nil {
		// An unreadable history starts again from this run.
		past = nil
	}
	b, err := history.Encode(past, ran)
	if err != nil {
		return err
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[DurationsKey] = string(b)
	return r.Client.Update(ctx, cm)
}

// attemptDuration is how long an attempt's test ran.
func attemptDuration(a v1alpha1.Attempt) (time.Duration, bool) {
	if a.Duration != nil {
		return a.Duration.Duration, true
	}
	if a.StartTime == nil || a.FinishTime == nil || a.FinishTime.Before(a.StartTime) {
		return 0, false
	}
	return a.FinishTime.Sub(a.StartTime.Time), true
}

// expectedDurations are the tests' durations in earlier runs, by test id,
// as their TestCases got them when created.
func expectedDurations(cases []*v1alpha1.TestCase) map[string]time.Duration {
	var out map[string]time.Duration
	for _, tc := range cases {
		if d := tc.Spec.ExpectedDuration; d != nil {
			if out == nil {
				out = make(map[string]time.Duration, len(cases))
			}
			out[tc.Spec.TestID] = d.Duration
		}
	}
	return out
}
