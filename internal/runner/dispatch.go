package runner

import "github.com/k8s-testrun/k8s-testrun/internal/plan"

// deletesDispatched says every delete of the last decision went out. One
// that the busy pool of calls turned away is asked again at the next
// decision; a run that ended on that decision instead would leave the pod to
// the cleanup by label, its deletion missing from the attempt's timeline.
func (r *run) deletesDispatched() bool {
	for _, a := range r.last.Actions {
		if a.Kind == plan.Delete && !r.deleting[a.Pod] {
			return false
		}
	}
	return true
}
