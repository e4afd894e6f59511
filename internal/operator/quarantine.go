package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// QuarantineKey is the key of a quarantine ConfigMap when the run names
// none.
const QuarantineKey = "quarantine.yaml"

// badQuarantine is a quarantine the run cannot be carried out with:
// missing, or with bad entries, one line each.
type badQuarantine struct{ error }

func (e badQuarantine) Unwrap() error { return e.error }

func isBadQuarantine(err error) bool { return errors.As(err, new(badQuarantine)) }

// RunQuarantine reads the quarantine file run.Spec.Quarantine names; nil
// when it names none. A missing ConfigMap or key, or a file with bad
// entries (one line each), is a badQuarantine.
func RunQuarantine(ctx context.Context, r client.Reader, run *v1alpha1.TestRun) (*quarantine.List, error) {
	q := run.Spec.Quarantine
	if q == nil {
		return nil, nil
	}
	key := q.Key
	if key == "" {
		key = QuarantineKey
	}
	cm := &corev1.ConfigMap{}
	err := r.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: q.ConfigMap}, cm)
	if kerrors.IsNotFound(err) {
		return nil, badQuarantine{fmt.Errorf("spec.quarantine: configmap %s not found; create it with the quarantine file under the key %s", q.ConfigMap, key)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading the quarantine configmap %s: %w", q.ConfigMap, err)
	}
	data, ok := cm.Data[key]
	if !ok {
		return nil, badQuarantine{fmt.Errorf("spec.quarantine: configmap %s has no key %s; put the quarantine file there", q.ConfigMap, key)}
	}
	l, err := quarantine.Load(strings.NewReader(data), "configmap "+q.ConfigMap+" key "+key)
	if err != nil {
		return nil, badQuarantine{err}
	}
	return l, nil
}

// quarantines keeps each running run's quarantine as read when it first
// needed it, so that an edit of the ConfigMap mid-run changes nothing and
// a reconcile does not read it again. A run's entry goes when it finishes
// or is gone.
type quarantines struct {
	mu    sync.Mutex
	lists map[types.NamespacedName]keptQuarantine
}

type keptQuarantine struct {
	uid  types.UID
	list *quarantine.List
}

func (q *quarantines) get(ctx context.Context, r client.Reader, run *v1alpha1.TestRun) (*quarantine.List, error) {
	if run.Spec.Quarantine == nil {
		return nil, nil
	}
	key := client.ObjectKeyFromObject(run)
	q.mu.Lock()
	k, ok := q.lists[key]
	q.mu.Unlock()
	if ok && k.uid == run.UID {
		return k.list, nil
	}
	l, err := RunQuarantine(ctx, r, run)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	if q.lists == nil {
		q.lists = map[types.NamespacedName]keptQuarantine{}
	}
	q.lists[key] = keptQuarantine{uid: run.UID, list: l}
	q.mu.Unlock()
	return l, nil
}

func (q *quarantines) forget(key types.NamespacedName) {
	q.mu.Lock()
	delete(q.lists, key)
	q.mu.Unlock()
}

// maxExpiredEvents bounds the events of one run's expired entries.
const maxExpiredEvents = 20

// warnExpired gives each quarantine entry past its date a warning event:
// it protects nothing any more.
func (r *TestRunReconciler) warnExpired(run *v1alpha1.TestRun, rep *report.Report) {
	if rep == nil {
		return
	}
	for i, line := range rep.ExpiredQuarantine() {
		if i == maxExpiredEvents {
			break
		}
		r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, "QuarantineExpired", "Quarantine", "%s", truncate(line, maxMessage))
	}
}

// excused are the IDs of the cases whose failure l excuses at the run's
// start, as the report judges them, so their failures neither count
// towards MaxFailures nor fail the run.
func excused(l *quarantine.List, cases []*v1alpha1.TestCase, started *metav1.Time) map[string]bool {
	if l == nil || started == nil {
		return nil
	}
	out := map[string]bool{}
	for _, tc := range cases {
		if _, ok := l.Excuses(tc.Spec.TestID, started.Time); ok {
			out[CaseOf(tc).ID] = true
		}
	}
	return out
}

// checkQuarantine is the error of entries that match none of the run's
// tests, one line each, when the run collected the whole project (no
// spec.tests or rerunTests, no selection): a typo there would leave a failure unexcused.
func checkQuarantine(l *quarantine.List, run *v1alpha1.TestRun, cases []*v1alpha1.TestCase) error {
	if l == nil || len(run.Spec.Tests) > 0 || len(run.Spec.RerunTests) > 0 || len(run.Spec.Selection) > 0 {
		return nil
	}
	ids := make([]string, 0, len(cases))
	for _, tc := range cases {
		ids = append(ids, tc.Spec.TestID)
	}
	if err := l.Unmatched(ids); err != nil {
		return badQuarantine{err}
	}
	return nil
}
