package runner

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// observationFresh is how long the observation of an unchanged pod that has
// not ended is reused. Only the rules that give up on a pod after a while
// (not scheduled, image not pulled, never started, past its deadline) make
// the observation of an unchanged pod change, and they count in minutes;
// they act at most this much later.
const observationFresh = time.Second

// observations keeps the last observation of each watched pod, by name,
// with the resourceVersion it was made from. The loop decides up to twenty
// times a second over every pod in flight, and most of those pods have not
// changed since the last decision: observing each again was the largest
// part of the runner's CPU at P=500. An observation is reused while the pod
// keeps its resourceVersion, for ever once the pod has ended (a pod's end
// depends on the pod alone), for observationFresh before that.
type observations map[string]observation

type observation struct {
	resourceVersion string
	at              time.Time
	obs             plan.Pod
}

// observe is k8s.Observe(p, now, opts), reused as the type says.
func (o *observations) observe(p *corev1.Pod, now time.Time, opts k8s.ObserveOptions) plan.Pod {
	if c, ok := (*o)[p.Name]; ok && p.ResourceVersion != "" && c.resourceVersion == p.ResourceVersion &&
		(c.obs.Done || now.Sub(c.at) < observationFresh) {
		return c.obs
	}
	obs := k8s.Observe(p, now, opts)
	if *o == nil {
		*o = observations{}
	}
	(*o)[p.Name] = observation{resourceVersion: p.ResourceVersion, at: now, obs: obs}
	return obs
}

// forget drops the observation of a pod that is collected or gone.
func (o observations) forget(name string) { delete(o, name) }
