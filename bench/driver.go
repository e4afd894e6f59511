package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// PodDriver is the baseline orchestrator: it creates pods in order under a
// parallelism cap, learns through one watch that each has ended, and
// deletes it. No sidecar, no results, no retries: the least that running
// one pod per test needs.
type PodDriver struct {
	Client      kubernetes.Interface
	Namespace   string
	Selector    string
	Parallelism int
	Pods        []*corev1.Pod
	// OnDone, if set, is called for each pod once it has ended, before the
	// pod is deleted.
	OnDone func(context.Context, *corev1.Pod) error
	// AcceptFailed takes a pod that ended Failed (a test that failed) as
	// an outcome like any other rather than an error.
	AcceptFailed bool
}

// Run drives every pod to its end. It returns an error naming the pods that
// failed, after all have ended.
func (d PodDriver) Run(ctx context.Context) error {
	w, err := k8s.NewWatcher(d.Client, d.Namespace, d.Selector)
	if err != nil {
		return err
	}
	wctx, stop := context.WithCancel(ctx)
	defer func() { stop(); w.Shutdown() }()
	if err := w.Start(wctx); err != nil {
		return err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ended := map[string]bool{}
	var failed []error
	next, active := 0, 0
	for {
		pods, err := w.Pods()
		if err != nil {
			return err
		}
		for _, p := range pods {
			if ended[p.Name] || (p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed) {
				continue
			}
			ended[p.Name] = true
			active--
			if p.Status.Phase == corev1.PodFailed && !d.AcceptFailed {
				failed = append(failed, fmt.Errorf("pod %s failed: %s", p.Name, p.Status.Message))
			}
			if d.OnDone != nil {
				if err := d.OnDone(ctx, p); err != nil {
					return err
				}
			}
			if err := k8s.DeletePod(ctx, d.Client, d.Namespace, p.Name, ptr.To(int64(0))); err != nil {
				return err
			}
		}
		if len(ended) == len(d.Pods) {
			return errors.Join(failed...)
		}
		for active < max(d.Parallelism, 1) && next < len(d.Pods) {
			if err := k8s.CreatePod(ctx, d.Client, d.Pods[next]); err != nil {
				return err
			}
			next++
			active++
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.Changed():
		case <-tick.C:
		}
	}
}

// BarePod is the baseline's pod for one test: pytest straight in the test
// image, with nothing around it.
func BarePod(namespace, runID string, i int, image, testID string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("ktr-%s-bare-%04d", runID, i),
			Namespace: namespace,
			Labels:    map[string]string{k8s.LabelRun: runID, k8s.LabelRole: "bare"},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			EnableServiceLinks: ptr.To(false),
			Containers: []corev1.Container{{
				Name:       k8s.TestContainer,
				Image:      image,
				Command:    []string{"python", "-m", "pytest", "-p", "no:cacheprovider", testID},
				WorkingDir: layout.WorkDir,
			}},
		},
	}
}
