package drive

import (
	"sync"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// PendingGrace is how long a created pod that the watch never shows still
// counts as running; past it, the pod is taken as lost and created again
// (an existing pod of that name makes that a no-op).
const PendingGrace = time.Minute

// Pending holds the pods created but not yet seen through the watch or the
// cache, so that a decision taken before they show neither creates them
// again nor exceeds the parallelism. It lives in memory only: a restarted
// runner or operator starts from a fresh list, which shows every pod. It is
// safe for concurrent use.
type Pending struct {
	mu   sync.Mutex
	pods map[string]pendingPod
}

type pendingPod struct {
	pod plan.Pod
	at  time.Time
}

// Add remembers p, created at now.
func (c *Pending) Add(p plan.Pod, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pods == nil {
		c.pods = map[string]pendingPod{}
	}
	c.pods[p.Name] = pendingPod{pod: p, at: now}
}

// Has reports whether the pod of that name is pending.
func (c *Pending) Has(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pods[name]
	return ok
}

// Remove forgets the pod of that name: its create failed or did not go
// out.
func (c *Pending) Remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pods, name)
}

// Merge drops the pending pods that seen reports shown, and those pending
// for longer than PendingGrace, and appends the rest to obs.
func (c *Pending) Merge(obs []plan.Pod, seen func(name string) bool, now time.Time) []plan.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, p := range c.pods {
		switch {
		case seen(name):
			delete(c.pods, name)
		case now.Sub(p.at) > PendingGrace:
			delete(c.pods, name)
		default:
			obs = append(obs, p.pod)
		}
	}
	return obs
}
