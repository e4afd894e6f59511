package k8s

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// OneOffOptions describes a single-container pod that runs a command to its
// end, such as test discovery.
type OneOffOptions struct {
	Namespace string
	RunID     string
	Role      string
	Image     string
	Command   []string
	// Timeout bounds the whole pod, pull and run; zero means none.
	Timeout  time.Duration
	Template *corev1.PodTemplateSpec
}

// OneOffPod builds the pod for OneOffOptions.
func OneOffPod(o OneOffOptions) (*corev1.Pod, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("ktr-%s-%s", o.RunID, o.Role),
			Namespace: o.Namespace,
			Labels: map[string]string{
				LabelManagedBy: ManagedBy,
				LabelRun:       o.RunID,
				LabelRole:      o.Role,
			},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			EnableServiceLinks:            ptr.To(false),
			Containers: []corev1.Container{{
				Name:       TestContainer,
				Image:      o.Image,
				Command:    o.Command,
				WorkingDir: layout.WorkDir,
			}},
		},
	}
	if o.Timeout > 0 {
		pod.Spec.ActiveDeadlineSeconds = ptr.To(int64((o.Timeout + time.Second - 1) / time.Second))
	}
	// Discovery runs without the template's services.
	pod, err := mergeTemplate(pod, o.Template)
	if err != nil {
		return nil, err
	}
	return withoutServices(pod), nil
}

// MaxOneOffLog bounds the log RunOnce reads: pytest --collect-only prints
// one line per test, and 64 MiB holds hundreds of thousands of test ids. A
// longer log is an error rather than a list of tests cut short.
const MaxOneOffLog = 64 << 20

// maxOneOffLog is MaxOneOffLog, lowered by tests.
var maxOneOffLog int64 = MaxOneOffLog

// RunOnce creates pod, waits until it has an outcome, reads the log of its
// test container (at most MaxOneOffLog bytes, else a *LogTooLargeError),
// and deletes it, also when ctx is cancelled.
func RunOnce(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, opts ObserveOptions) (plan.Outcome, []byte, error) {
	selector := fmt.Sprintf("%s=%s,%s=%s", LabelRun, pod.Labels[LabelRun], LabelRole, pod.Labels[LabelRole])
	w, err := NewWatcher(client, pod.Namespace, selector)
	if err != nil {
		return plan.Outcome{}, nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer func() { stop(); w.Shutdown() }()
	if err := w.Start(wctx); err != nil {
		return plan.Outcome{}, nil, err
	}
	if err := CreatePod(ctx, client, pod); err != nil {
		return plan.Outcome{}, nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = DeletePod(cctx, client, pod.Namespace, pod.Name, ptr.To(int64(0)))
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	polled := false
	for {
		pods, err := w.Pods()
		if err != nil {
			return plan.Outcome{}, nil, err
		}
		if polled {
			// A watch can miss an event (a fake clientset's does when the
			// pod changes between its list and its watch); once a tick,
			// the pod itself is asked for, so the wait always ends.
			if p, err := client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err == nil {
				pods = append(pods, p)
			}
		}
		for _, p := range pods {
			if p.Name != pod.Name {
				continue
			}
			if obs := Observe(p, time.Now(), opts); obs.Done {
				limit := maxOneOffLog
				if opts.LogLimit > 0 && opts.LogLimit < limit {
					limit = opts.LogLimit
				}
				log, err := LogsWithin(ctx, client, pod.Namespace, pod.Name, TestContainer, limit)
				return obs.Outcome, log, err
			}
		}
		polled = false
		select {
		case <-ctx.Done():
			return plan.Outcome{}, nil, ctx.Err()
		case <-w.Changed():
		case <-tick.C:
			polled = true
		}
	}
}
