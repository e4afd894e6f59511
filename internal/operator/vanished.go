package operator

import (
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// annotationVanished marks, in memory only, the last copy of a test pod
// that left the API before its attempt was recorded. It is never written
// to the API server.
const annotationVanished = "k8s-testrun.io/vanished"

// podMemoryTTL is how long a pod's last copy is kept after it was last
// listed: longer than any reconcile takes to record a lost attempt, short
// enough that the TestCases of deleted runs leave nothing behind.
const podMemoryTTL = time.Hour

// podMemory keeps the last copy of each test pod the operator listed and
// has not recorded yet, by its controller, as the runner keeps the pods it
// saw. A pod that leaves the API before its attempt is recorded (deleted
// with --force --grace-period=0, or by a node's pod garbage collector,
// with no terminal status ever seen) comes back from here as deleted now:
// its attempt is recorded as PodDeleted, as in direct mode, and the test
// runs again as an infrastructure retry, instead of the same attempt being
// created again with the loss unrecorded. Both reconcilers share one, so
// the one that decides creates sees the loss as the one that records it.
// It lives in memory: a restarted operator, like a restarted runner,
// knows only the pods it lists.
type podMemory struct {
	mu     sync.Mutex
	owners map[types.UID]map[string]lastSeen
	// swept is when the copies of every owner were last looked over, for
	// those of owners no reconcile asks about any more (a deleted run).
	swept time.Time
}

type lastSeen struct {
	pod *corev1.Pod
	at  time.Time
}

// pods returns the listed pods of owner plus, as deleted now, those it
// remembers that are no longer listed and whose attempt recorded denies.
// It remembers the listed ones not recorded and forgets the recorded. A
// nil memory returns listed.
func (m *podMemory) pods(owner types.UID, listed []*corev1.Pod, recorded func(pod string) bool, now time.Time) []*corev1.Pod {
	if m == nil {
		return listed
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	mine := m.owners[owner]
	if len(listed) == 0 && len(mine) == 0 {
		// Most tests of a large run, most of the time: nothing to do.
		return listed
	}
	if m.owners == nil {
		m.owners = map[types.UID]map[string]lastSeen{}
	}
	if mine == nil {
		mine = map[string]lastSeen{}
		m.owners[owner] = mine
	}
	there := make(map[string]bool, len(listed))
	for _, p := range listed {
		there[p.Name] = true
		if recorded(p.Name) || p.Annotations[annotationVanished] != "" {
			delete(mine, p.Name)
			continue
		}
		mine[p.Name] = lastSeen{pod: p, at: now}
	}
	out := listed
	for name, s := range mine {
		switch {
		case there[name]:
		case recorded(name) || now.Sub(s.at) > podMemoryTTL:
			delete(mine, name)
		default:
			out = append(out, vanishedCopy(s.pod, now))
		}
	}
	if len(mine) == 0 {
		delete(m.owners, owner)
	}
	return out
}

// sweep drops, every podMemoryTTL at most, the copies not listed for
// podMemoryTTL, of every owner.
func (m *podMemory) sweep(now time.Time) {
	if now.Sub(m.swept) < podMemoryTTL {
		return
	}
	m.swept = now
	for owner, mine := range m.owners {
		for name, s := range mine {
			if now.Sub(s.at) > podMemoryTTL {
				delete(mine, name)
			}
		}
		if len(mine) == 0 {
			delete(m.owners, owner)
		}
	}
}

// vanishedCopy is the last copy of a pod gone from the API, deleted now
// with no grace, as direct mode observes a pod it no longer lists.
func vanishedCopy(last *corev1.Pod, now time.Time) *corev1.Pod {
	p := last.DeepCopy()
	if p.DeletionTimestamp == nil {
		p.DeletionTimestamp = &metav1.Time{Time: now}
		p.DeletionGracePeriodSeconds = ptr.To(int64(0))
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[annotationVanished] = "true"
	return p
}

// recordedIn says whether tc's history holds an attempt made in pod.
func recordedIn(tc *v1alpha1.TestCase) func(pod string) bool {
	return func(pod string) bool {
		for _, a := range tc.Status.History {
			if a.Pod == pod {
				return true
			}
		}
		return false
	}
}

// heldByAny says whether any of cases recorded an attempt made in pod: a
// unit's pod is recorded once any of its tests holds it.
func heldByAny(cases []*v1alpha1.TestCase) func(pod string) bool {
	var held map[string]bool
	return func(pod string) bool {
		if held == nil {
			// Built once, on the first question: a run of many tests
			// asks about a few pods at a time.
			held = map[string]bool{}
			for _, tc := range cases {
				for _, a := range tc.Status.History {
					if a.Unit != "" {
						held[a.Pod] = true
					}
				}
			}
		}
		return held[pod]
	}
}

// vanishedAttempt is the attempt of a pod gone from the API: its outcome
// from its last copy, no results, since no log is left to read.
func vanishedAttempt(pod *corev1.Pod, number int, o plan.Outcome, now time.Time) attempt.Attempt {
	at := attempt.Lost(pod, number, o, now)
	at.ResultErr = errors.New("results not read: the pod left the API before it was collected")
	return at
}
