package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/runner"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// B1Target bounds runner wall time / baseline wall time.
const B1Target = 1.15

// caseTimeout is each test pod's deadline in the benchmarks: far above a
// trivial test's few seconds, it only guards against a wedged run.
const caseTimeout = 3 * time.Minute

// b1 runs the same trivial cases through the runner and through the
// baseline (PodDriver with bare pods) at each parallelism, alternating
// which goes first, and divides the wall times.
func b1(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B1", Name: "orchestration overhead", Target: fmt.Sprintf("≤ %.2f", B1Target), Pass: true}
	image, ids, err := s.TrivialImage(ctx, o.B1N)
	if err != nil {
		return f, err
	}
	cases := Cases(ids)
	var figures []string
	worst := 0.0
	for pi, p := range o.B1P {
		var walls [2]time.Duration // runner, baseline
		for r := 0; r < o.B1Rounds; r++ {
			arms := []int{1, 0}
			if (r+pi)%2 == 1 {
				arms = []int{0, 1}
			}
			for _, arm := range arms {
				if err := settle(ctx, o.Settle); err != nil {
					return f, err
				}
				name := [2]string{"runner", "baseline"}[arm]
				s.Log.Info("B1 run", "arm", name, "cases", len(cases), "parallelism", p, "round", r+1)
				var wall time.Duration
				var bd Breakdown
				if arm == 0 {
					var results []report.CaseResult
					wall, bd, results, err = s.runnerArm(ctx, image, cases, p)
					if err == nil {
						err = checkResults(results)
					}
				} else {
					wall, bd, _, err = s.baselineArm(ctx, image, ids, p, false)
				}
				if err != nil {
					return f, fmt.Errorf("%s at parallelism %d: %w", name, p, err)
				}
				walls[arm] += wall
				f.Notes = append(f.Notes, fmt.Sprintf("P=%d round %d %-8s %7.1fs  %s", p, r+1, name, wall.Seconds(), bd))
			}
		}
		ratio := walls[0].Seconds() / walls[1].Seconds()
		worst = max(worst, ratio)
		if ratio > B1Target {
			f.Pass = false
		}
		figures = append(figures, fmt.Sprintf("P=%d %.2f", p, ratio))
		f.Notes = append(f.Notes, fmt.Sprintf("P=%d ratio %.3f (runner %.1fs / baseline %.1fs, N=%d)", p, ratio, walls[0].Seconds(), walls[1].Seconds(), len(cases)))
	}
	f.Value = strings.Join(figures, ", ")
	f.Notes = append(f.Notes, fmt.Sprintf("worst ratio %.3f", worst))
	return f, nil
}

// Cases turns test ids into the runner's cases.
func Cases(ids []string) []plan.Case {
	cases := make([]plan.Case, len(ids))
	for i, id := range ids {
		cases[i] = plan.Case{ID: testid.CaseID(id), TestID: id}
	}
	return cases
}

// runnerArm runs the cases with k8s-testrun's runner, as the CLI does after
// discovery, and times runner.Run alone.
func (s *Session) runnerArm(ctx context.Context, image string, cases []plan.Case, p int) (time.Duration, Breakdown, []report.CaseResult, error) {
	runID := newRunID()
	defer func() {
		if err := s.cleanRun(ctx, runID); err != nil {
			s.Log.Warn("cleaning up", "run", runID, "error", err)
		}
	}()
	tl, err := StartTimeline(ctx, s.Cluster.Client, s.Namespace, k8s.RunSelector(runID))
	if err != nil {
		return 0, Breakdown{}, nil, err
	}
	defer tl.Stop()
	start := time.Now()
	results, err := runner.Run(ctx, runner.Options{
		Client:        s.Cluster.Client,
		Namespace:     s.Namespace,
		RunID:         runID,
		Image:         image,
		Cases:         cases,
		Parallelism:   p,
		MaxAttempts:   1,
		Timeout:       caseTimeout,
		NativeSidecar: s.Native,
		Logger:        s.Log.With("component", "runner", "run", runID),
	})
	wall := time.Since(start)
	if err != nil {
		return wall, Breakdown{}, nil, err
	}
	return wall, Summarise(tl.Pods(), p), results, nil
}

// checkResults makes sure a measured run did what it was meant to: every
// trivial test passed, with its results read.
func checkResults(results []report.CaseResult) error {
	for _, r := range results {
		if r.Status != plan.Passed {
			return fmt.Errorf("case %s ended %s, not passed: the measurement is void", r.Case.TestID, r.Status)
		}
		if a := r.Attempts[len(r.Attempts)-1]; a.ResultErr != nil {
			return fmt.Errorf("case %s: results not read: %w", r.Case.TestID, a.ResultErr)
		}
	}
	return nil
}

// baselineArm runs the same tests as bare pods, and returns each test's
// exit code by test id. With acceptFailed, a test that fails is an outcome;
// otherwise it voids the run.
func (s *Session) baselineArm(ctx context.Context, image string, ids []string, p int, acceptFailed bool) (time.Duration, Breakdown, map[string]int32, error) {
	runID := newRunID()
	defer func() {
		if err := s.cleanRun(ctx, runID); err != nil {
			s.Log.Warn("cleaning up", "run", runID, "error", err)
		}
	}()
	tl, err := StartTimeline(ctx, s.Cluster.Client, s.Namespace, k8s.RunSelector(runID))
	if err != nil {
		return 0, Breakdown{}, nil, err
	}
	defer tl.Stop()
	pods := make([]*corev1.Pod, len(ids))
	idOf := make(map[string]string, len(ids))
	for i, id := range ids {
		pods[i] = BarePod(s.Namespace, runID, i, image, id)
		idOf[pods[i].Name] = id
	}
	exits := make(map[string]int32, len(ids))
	start := time.Now()
	err = PodDriver{
		Client: s.Cluster.Client, Namespace: s.Namespace, Selector: k8s.RunSelector(runID),
		Parallelism: p, Pods: pods, AcceptFailed: acceptFailed,
		OnDone: func(_ context.Context, pod *corev1.Pod) error {
			if code, ok := testExitCode(pod); ok {
				exits[idOf[pod.Name]] = code
			}
			return nil
		},
	}.Run(ctx)
	wall := time.Since(start)
	if err != nil {
		return wall, Breakdown{}, nil, err
	}
	return wall, Summarise(tl.Pods(), p), exits, nil
}

// testExitCode is the exit code of a pod's test container, once it has
// terminated.
func testExitCode(pod *corev1.Pod) (int32, bool) {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == k8s.TestContainer && cs.State.Terminated != nil {
			return cs.State.Terminated.ExitCode, true
		}
	}
	return 0, false
}
