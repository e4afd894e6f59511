package runner

// The steps of the loop: what it observes, how it waits, and each kind of
// action it carries out.

import (
	"cmp"
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// observeAll turns the pods the watch holds into the planner's view: each
// pod as observed, the pods gone from the watch, created pods not yet seen
// and collected pods still settling. live maps the watched pods by name.
func (r *run) observeAll(pods []*corev1.Pod) (live map[string]*corev1.Pod, observed []plan.Pod) {
	live = map[string]*corev1.Pod{}
	observed = make([]plan.Pod, 0, len(pods)+len(r.settling))
	now := time.Now()
	for _, p := range pods {
		live[p.Name] = p
		if rec, ok := r.collected[p.Name]; ok {
			rec.pod.Deleting = rec.pod.Deleting || p.DeletionTimestamp != nil
			r.observations.forget(p.Name)
			continue
		}
		r.seen[p.Name] = p
		obs := r.withNodeLoss(p, r.observations.observe(p, now, r.observeOptions()), now)
		obs.Deleting = obs.Deleting || r.deleting[p.Name]
		if obs.Done {
			if tl := r.timeline(p.Name); tl.Seen.IsZero() {
				tl.Seen = now
			}
		}
		observed = append(observed, obs)
		r.announce(p, obs)
	}
	vanished := r.gone(live, now)
	for i := range vanished {
		vanished[i].Gone = true
	}
	observed = append(observed, vanished...)
	r.announceGone(live)
	observed = r.created.Merge(observed, func(name string) bool { return live[name] != nil }, now)
	for name := range r.settling {
		rec := r.collected[name]
		if _, ok := live[name]; !ok {
			rec.pod.Deleting = true
			rec.pod.Gone = true
			if rec.pod.Done {
				// Settled: the planner keeps its outcomes from now on.
				delete(r.settling, name)
			}
		}
		observed = append(observed, rec.pod)
	}
	return live, observed
}

// await waits for something to decide on: a pod or node change, a wake-up
// or the resync tick, then lets events gather for gap. It reports whether
// ctx ended.
func (r *run) await(ctx context.Context, w *k8s.Watcher, nodeChanged <-chan struct{}, tick <-chan time.Time, gap time.Duration) bool {
	select {
	case <-ctx.Done():
		return true
	case <-w.Changed():
	case <-nodeChanged:
	case <-r.x.Woken():
	case <-tick:
	}
	if gap > 0 {
		// Events that arrive meanwhile are decided on together.
		select {
		case <-ctx.Done():
		case <-time.After(gap):
		}
	}
	return false
}

// actCreate builds the pod of a create action and creates it on a worker,
// unless a pod of that name was created and is not yet seen.
func (r *run) actCreate(ctx context.Context, a plan.Action) error {
	opts := k8s.TestPodOptions{
		Namespace:     r.o.Namespace,
		RunID:         r.o.RunID,
		Case:          a.Case,
		Attempt:       a.Attempt,
		Image:         cmp.Or(a.Case.Image, r.o.Image),
		PytestArgs:    r.o.PytestArgs,
		Timeout:       r.timeout(a.Case),
		NativeSidecar: r.o.NativeSidecar,
		ResultLimit:   r.o.ResultLimit,
		Template:      r.o.Template,

		FaketimeLibrary: r.o.FaketimeLibrary,
		Coverage:        r.o.CoverageDir != "",
	}
	opts.ServiceTimeout = r.o.PendingTimeout
	if a.Unit != a.Case.ID || len(a.Cases) > 1 {
		opts.Unit, opts.Cases = a.Unit, a.Cases
	}
	pod, err := k8s.TestPod(opts)
	if err != nil {
		return err
	}
	obs := plan.Pod{Name: pod.Name, CaseID: pod.Labels[k8s.LabelCase], Attempt: a.Attempt}
	if opts.Unit != "" {
		obs.Cases = caseIDs(a.Cases)
	}
	if r.created.Has(pod.Name) {
		return nil
	}
	r.o.Logger.Debug("creating pod", "pod", pod.Name, "tests", len(a.Cases), "first", a.Case.TestID, "attempt", a.Attempt)
	r.created.Add(obs, time.Now())
	if !r.x.Call(func() func() error {
		err := k8s.CreatePod(ctx, r.o.Client, pod)
		at := time.Now()
		return func() error {
			if err != nil {
				r.created.Remove(pod.Name)
				return err
			}
			r.timeline(pod.Name).Created = at
			return nil
		}
	}) {
		r.created.Remove(pod.Name)
	}
	return nil
}

// actCollect collects the pod of a collect action, live or vanished, on a
// read worker, unless its collection is under way.
func (r *run) actCollect(ctx context.Context, a plan.Action, live map[string]*corev1.Pod) {
	p := live[a.Pod]
	if p == nil {
		p = r.vanished[a.Pod]
	}
	if p == nil || r.collecting[a.Pod] {
		return
	}
	var lost *plan.Outcome
	if o, ok := r.lost[a.Pod]; ok {
		lost = &o
	}
	r.collecting[a.Pod] = r.x.Read(func() func() error {
		rec := r.collect(ctx, p, lost)
		return func() error {
			delete(r.collecting, a.Pod)
			r.finishCollect(p, rec)
			return nil
		}
	})
}

// actDelete deletes the pod of a delete action on a worker, unless its
// delete is under way.
func (r *run) actDelete(ctx context.Context, a plan.Action) {
	if r.deleting[a.Pod] {
		return
	}
	if !r.x.Call(func() func() error {
		err := k8s.DeletePod(ctx, r.o.Client, r.o.Namespace, a.Pod, ptr.To(int64(0)))
		at := time.Now()
		return func() error {
			if err != nil {
				// Asked again at the next evaluation; the run's
				// cleanup deletes by label whatever stays.
				r.o.Logger.Debug("deleting pod failed", "pod", a.Pod, "err", err)
				delete(r.deleting, a.Pod)
				if rec, ok := r.collected[a.Pod]; ok {
					rec.pod.Deleting = false
				}
				return nil
			}
			r.timeline(a.Pod).Deleted = at
			return nil
		}
	}) {
		return
	}
	r.deleting[a.Pod] = true
	if rec, ok := r.collected[a.Pod]; ok {
		rec.pod.Deleting = true
	}
}
