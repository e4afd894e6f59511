package runner

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// PodEvent is a test pod starting or ending its test, for OnPod.
type PodEvent struct {
	Pod string
	// Tests are the test ids the pod runs.
	Tests []string
	// Running is true when the test container started, at Started; false
	// when the pod is done or gone.
	Running bool
	Started time.Time
}

// announce tells OnPod of a pod whose test container runs, once, and of
// its end, once.
func (r *run) announce(p *corev1.Pod, obs plan.Pod) {
	if r.o.OnPod == nil {
		return
	}
	if r.running == nil {
		r.running = map[string]bool{}
	}
	switch {
	case obs.Done:
		if r.running[p.Name] {
			delete(r.running, p.Name)
			r.o.OnPod(PodEvent{Pod: p.Name})
		}
	case !r.running[p.Name]:
		started, ok := testRunningSince(p)
		if !ok {
			return
		}
		r.running[p.Name] = true
		var tests []string
		for _, id := range obs.CaseIDs() {
			if c, ok := r.cases[id]; ok {
				tests = append(tests, c.TestID)
			}
		}
		r.o.OnPod(PodEvent{Pod: p.Name, Tests: tests, Running: true, Started: started})
	}
}

// announceGone tells OnPod of the end of running pods no longer listed.
func (r *run) announceGone(live map[string]*corev1.Pod) {
	for name := range r.running {
		if live[name] == nil {
			delete(r.running, name)
			r.o.OnPod(PodEvent{Pod: name})
		}
	}
}

// testRunningSince is when the pod's test container started, while it runs.
func testRunningSince(p *corev1.Pod) (time.Time, bool) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == k8s.TestContainer && cs.State.Running != nil {
			return cs.State.Running.StartedAt.Time, true
		}
	}
	return time.Time{}, false
}
