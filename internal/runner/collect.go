package runner

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// gone observes the pods that disappeared before they were collected, as
// their last state deleted now: a test that had not ended on its own was
// taken away with its pod, and its attempt is collected (without results)
// like any other.
func (r *run) gone(live map[string]*corev1.Pod, now time.Time) []plan.Pod {
	for name, last := range r.seen {
		if live[name] != nil {
			continue
		}
		delete(r.seen, name)
		r.observations.forget(name)
		if _, ok := r.collected[name]; ok {
			continue
		}
		p := last.DeepCopy()
		if p.DeletionTimestamp == nil {
			p.DeletionTimestamp = &metav1.Time{Time: now}
			p.DeletionGracePeriodSeconds = ptr.To(int64(0))
		}
		r.vanished[name] = p
		r.o.Logger.Debug("pod disappeared before it was collected", "pod", name)
	}
	var out []plan.Pod
	for name, p := range r.vanished {
		if _, ok := r.collected[name]; ok {
			delete(r.vanished, name)
			continue
		}
		obs := r.observe(p, now)
		obs.Deleting = true
		out = append(out, obs)
	}
	return out
}

// collected is what a worker read of one finished pod.
type collectedPod struct {
	at      attempt.Attempt
	unit    bool
	results map[string]attempt.Attempt
	at0     time.Time
}

// collect reads a finished pod's results, on a worker.
// An attempt lost with its node (lost non-nil) is not read: its node no
// longer serves the log.
func (r *run) collect(ctx context.Context, p *corev1.Pod, lost *plan.Outcome) collectedPod {
	opts := r.observeOptions()
	var at attempt.Attempt
	if lost != nil {
		at = lostAttempt(p, *lost, time.Now())
	} else {
		at, _ = attempt.CollectWithClock(ctx, r.o.clock, r.o.Client, p, 0, opts)
	}
	at.ResultErr = keepError(at.ResultErr)
	if r.o.CoverageDir != "" {
		if err := report.SaveCoverage(r.o.CoverageDir, p.Name, at.Results.Coverage); err != nil {
			r.o.Logger.Warn("keeping the coverage data", "pod", p.Name, "error", err)
		}
	}
	at.Results.Coverage = nil
	if r.o.SpillDir != "" {
		files, err := report.SpillArtifacts(r.o.SpillDir, p.Name, at.Results.Artifacts)
		if err != nil {
			r.o.Logger.Warn("keeping the artifacts in memory", "pod", p.Name, "error", err)
		}
		at.Results.Artifacts = files
	}
	c := collectedPod{at: at, at0: time.Now()}
	if ids := p.Annotations[k8s.AnnotationCases]; ids != "" {
		c.unit = true
		cases := make([]plan.Case, 0)
		for _, id := range strings.Split(ids, ",") {
			if cs, ok := r.cases[id]; ok {
				cases = append(cases, cs)
			}
		}
		timeout := r.o.Timeout
		if len(cases) > 0 {
			timeout = r.timeout(cases[0])
		}
		c.results = attempt.SettleUnit(at, cases, timeout)
	}
	return c
}

// finishCollect records a collected pod, on the loop.
func (r *run) finishCollect(p *corev1.Pod, c collectedPod) {
	obs := r.observe(p, time.Now())
	delete(r.lost, p.Name)
	obs.Collected = true
	obs.Deleting = obs.Deleting || r.deleting[p.Name]
	tl := r.timeline(p.Name)
	tl.FromPod(p, c.at.Results)
	tl.Collected = c.at0
	if tl.Seen.IsZero() {
		tl.Seen = c.at0
	}
	rec := &record{pod: obs}
	if !c.unit {
		caseID := p.Labels[k8s.LabelCase]
		at := c.at
		at.Number = obs.Attempt
		obs.Outcome = at.Outcome
		rec.pod = obs
		rec.attempts = []caseAttempt{{id: caseID, at: at}}
		r.outcomes[caseID]++
		r.o.Logger.Debug("collected", "pod", p.Name, "status", at.Outcome.Status, "reason", at.Outcome.Reason, "results_error", at.ResultErr)
	} else {
		rec.pod.Outcome = c.at.Outcome
		rec.pod.Outcomes = make(map[string]plan.Outcome, len(c.results))
		rec.attempts = make([]caseAttempt, 0, len(c.results))
		for _, id := range obs.CaseIDs() {
			at, ok := c.results[id]
			if !ok {
				continue
			}
			r.outcomes[id]++
			at.Number = r.outcomes[id]
			rec.attempts = append(rec.attempts, caseAttempt{id: id, at: at})
			rec.pod.Outcomes[id] = at.Outcome
		}
		r.o.Logger.Debug("collected", "pod", p.Name, "tests", len(obs.Cases), "settled", len(c.results), "status", c.at.Outcome.Status, "reason", c.at.Outcome.Reason, "results_error", c.at.ResultErr)
	}
	r.collected[p.Name] = rec
	r.settling[p.Name] = true
	delete(r.seen, p.Name)
	if r.o.OnAttempt != nil {
		for _, ca := range rec.attempts {
			r.o.OnAttempt(r.cases[ca.id], ca.at)
		}
	}
}

// results assembles the case results from the planner and the collected
// attempts. It hands the records over: they go as the results are built,
// so that a large run does not hold both at once; call it once.
func (r *run) results() []report.CaseResult {
	byCase := make(map[string][]attempt.Attempt, len(r.o.Cases))
	for name, rec := range r.collected {
		for _, ca := range rec.attempts {
			at := ca.at
			if tl := r.timelines[name]; tl != nil {
				at.Timeline = *tl
			}
			byCase[ca.id] = append(byCase[ca.id], at)
		}
		delete(r.collected, name)
		delete(r.timelines, name)
	}
	var states []plan.CaseState
	if r.planner != nil {
		// In the order of the spec's cases, which are r.o.Cases.
		states = r.planner.Cases()
	}
	out := make([]report.CaseResult, 0, len(r.o.Cases))
	for i, c := range r.o.Cases {
		atts := byCase[c.ID]
		slices.SortFunc(atts, func(a, b attempt.Attempt) int { return cmp.Compare(a.Number, b.Number) })
		var st plan.CaseState
		if i < len(states) {
			st = states[i]
		}
		cr := report.CaseResult{Case: c, Attempts: atts, Final: st.Final, Flaky: st.Flaky(), Stopped: st.Stopped}
		if len(atts) > 0 {
			cr.Status = atts[len(atts)-1].Outcome.Status
		}
		out = append(out, cr)
	}
	return out
}
