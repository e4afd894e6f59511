package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// TestBareCreatorInFlightCap: against a fake clientset whose pods end a
// little after their create, the bare creator creates every pod, deletes
// each once ended, and never has more than InFlight pods between their
// create and their end (counted by the test itself, not by the creator),
// while filling all InFlight slots.
func TestBareCreatorInFlightCap(t *testing.T) {
	const n, cap, ns = 100, 7, "ns"
	client := fake.NewClientset()
	var created, completed atomic.Int64
	var mu sync.Mutex
	maxSeen := int64(0)
	client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		now := created.Add(1) - completed.Load()
		mu.Lock()
		maxSeen = max(maxSeen, now)
		mu.Unlock()
		return false, nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if ev.Type != watch.Added || !ok {
				continue
			}
			time.AfterFunc(20*time.Millisecond, func() {
				completed.Add(1)
				p = p.DeepCopy()
				p.Status.Phase = corev1.PodSucceeded
				if p.Name == "pod-00013" {
					p.Status.Phase = corev1.PodFailed
				}
				_, _ = client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			})
		}
	}()

	var afterEnd, stillThere atomic.Int64
	res, err := BareCreator{
		Client: client, Namespace: ns, Selector: k8s.RunSelector("r1"), N: n, InFlight: cap,
		Pod: func(i int) *corev1.Pod {
			return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Namespace: ns, Labels: map[string]string{k8s.LabelRun: "r1"}}}
		},
		AfterEnd: func(ctx context.Context, p *corev1.Pod) {
			afterEnd.Add(1)
			if _, err := client.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{}); err == nil {
				stillThere.Add(1)
			}
		},
	}.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(n), afterEnd.Load(), "AfterEnd once for each ended pod")
	assert.Equal(t, int64(n), stillThere.Load(), "AfterEnd before the pod's delete")
	assert.Equal(t, n, res.Created)
	assert.Equal(t, n, res.Ended)
	assert.Equal(t, 1, res.Failed)
	assert.Equal(t, int64(n), created.Load())
	mu.Lock()
	assert.LessOrEqual(t, maxSeen, int64(cap), "pods in flight, counted by the test")
	mu.Unlock()
	assert.Equal(t, cap, res.MaxInFlight, "every slot was used")
	assert.Positive(t, rate(res.Ended, res.Wall), "pods ended per second of wall time")
	left, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, left.Items, "every pod deleted")
}

// TestBareCreatorCreateError: a refused create ends the run with the
// error, rather than waiting for a pod that will never end.
func TestBareCreatorCreateError(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("quota exceeded")
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := BareCreator{
		Client: client, Namespace: "ns", Selector: k8s.RunSelector("r1"), N: 3, InFlight: 2,
		Pod: func(i int) *corev1.Pod {
			return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("p", i), Namespace: "ns", Labels: map[string]string{k8s.LabelRun: "r1"}}}
		},
	}.Run(ctx)
	require.ErrorContains(t, err, "quota exceeded")
	assert.NoError(t, ctx.Err(), "the run ended at the error, not at the test's deadline")
}

// TestB8Verdict: the figure passes only when the runner and the operator
// each reach 0.9 of the bare creator's pods per second and their peak RSS
// stays within 100 MB and 150 MB; an unmeasured RSS is a miss.
func TestB8Verdict(t *testing.T) {
	const mb = 1 << 20
	bare := b8Arm{Name: "bare", Pods: 10000, Wall: 100 * time.Second, APICPU: 50}
	arm := func(name string, wall time.Duration, rss int64) b8Arm {
		return b8Arm{Name: name, Pods: 10000, Wall: wall, RSS: rss, APICPU: -1}
	}
	for _, tc := range []struct {
		name             string
		runner, operator b8Arm
		pass             bool
	}{
		{"both at the bare pace", arm("runner", 100*time.Second, 80*mb), arm("operator", 100*time.Second, 140*mb), true},
		{"both just at 0.9", arm("runner", 111*time.Second, 80*mb), arm("operator", 111*time.Second, 140*mb), true},
		{"runner below 0.9", arm("runner", 112*time.Second, 80*mb), arm("operator", 100*time.Second, 140*mb), false},
		{"operator below 0.9", arm("runner", 100*time.Second, 80*mb), arm("operator", 150*time.Second, 140*mb), false},
		{"runner RSS over 100 MB", arm("runner", 100*time.Second, 101*mb), arm("operator", 100*time.Second, 140*mb), false},
		{"operator RSS over 150 MB", arm("runner", 100*time.Second, 80*mb), arm("operator", 100*time.Second, 151*mb), false},
		{"operator RSS not measured", arm("runner", 100*time.Second, 80*mb), arm("operator", 100*time.Second, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Figure
			b8Verdict(&f, bare, tc.runner, tc.operator, b8Arm{})
			assert.Equal(t, tc.pass, f.Pass, f.Value)
			assert.Contains(t, f.Value, "of bare's 100.0 pods/s")
			assert.Contains(t, f.Notes[0], "API server CPU 50.0 s (5.0 ms per pod, 0.50 cores)")
		})
	}
	var f Figure
	b8Verdict(&f, bare, arm("runner", 125*time.Second, 80*mb), arm("operator", 200*time.Second, 140*mb), arm("bare+log", 110*time.Second, 0))
	assert.Contains(t, f.Value, "runner 0.80, operator 0.50")
	assert.False(t, f.Pass)
	assert.Contains(t, f.Notes[len(f.Notes)-1], "reads each pod's collector log (90.9 pods/s, 0.91 of bare's), the runner runs at 0.88, the operator at 0.55")
	// The arm with log reads is a reference: however slow, it changes no
	// verdict.
	f = Figure{}
	b8Verdict(&f, bare, arm("runner", 100*time.Second, 80*mb), arm("operator", 100*time.Second, 140*mb), arm("bare+log", 1000*time.Second, 0))
	assert.True(t, f.Pass, f.Value)
}

// TestB8BarePodIsTheRunnersPod: the baseline's pod is a test pod as the
// runner builds it, collector included, on the session's fake nodes.
func TestB8BarePodIsTheRunnersPod(t *testing.T) {
	s := &Session{ID: "s1", Namespace: "ns", BaseImage: "img", Native: true}
	c := Cases(b8IDs(1))[0]
	got, err := s.b8TestPod("r1", c)
	require.NoError(t, err)
	assert.Equal(t, k8s.PodName("r1", c.ID, 1), got.Name)
	assert.Equal(t, "test", got.Labels[k8s.LabelRole])
	require.Len(t, got.Spec.InitContainers, 1, "the collector, as a native sidecar")
	assert.Equal(t, k8s.TestContainer, got.Spec.Containers[0].Name)
	assert.Equal(t, s.b8Template().Spec.NodeSelector, got.Spec.NodeSelector)
	assert.Equal(t, int64(caseTimeout/time.Second), *got.Spec.ActiveDeadlineSeconds)
}

func TestParseProcessCPU(t *testing.T) {
	text := []byte("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" +
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 123.45\nprocess_max_fds 1.048576e+06\n")
	v, err := ParseProcessCPU(text)
	require.NoError(t, err)
	assert.InDelta(t, 123.45, v, 1e-9)
	_, err = ParseProcessCPU([]byte("process_max_fds 1\n"))
	assert.Error(t, err)
}

func TestParseVmHWM(t *testing.T) {
	v, err := parseVmHWM([]byte("Name:\tk8s-testrun\nVmPeak:\t  900000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t 70000 kB\n"))
	require.NoError(t, err)
	assert.Equal(t, int64(80<<20), v)
	_, err = parseVmHWM([]byte("Name:\tx\n"))
	assert.Error(t, err)
}

// TestBareCreatorStall: pods that never end make the run fail after Stall
// with a message saying so, rather than wait for ever.
func TestBareCreatorStall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := BareCreator{
		Client: fake.NewClientset(), Namespace: "ns", Selector: k8s.RunSelector("r1"), N: 3, InFlight: 2, Stall: 200 * time.Millisecond,
		Pod: func(i int) *corev1.Pod {
			return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("p", i), Namespace: "ns", Labels: map[string]string{k8s.LabelRun: "r1"}}}
		},
	}.Run(ctx)
	require.ErrorContains(t, err, "no pod ended for 200ms, 0 of 3 ended, 2 in flight")
	assert.NoError(t, ctx.Err())
}

// TestStuck: a pod bound to a node, not ended, unchanged for longer than
// the bound is stuck; a recent change of any kind, no node, an end or a
// deletion is not.
func TestStuck(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	pod := func(mut func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)}, Spec: corev1.PodSpec{NodeName: "n1"},
			Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, LastTransitionTime: ago(50 * time.Second)}}}}
		if mut != nil {
			mut(p)
		}
		return p
	}
	assert.True(t, stuck(pod(nil), now, 5*time.Second), "pending, bound, unchanged")
	assert.False(t, stuck(pod(func(p *corev1.Pod) { p.Spec.NodeName = "" }), now, 5*time.Second), "not bound")
	assert.False(t, stuck(pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), now, 5*time.Second), "ended")
	assert.False(t, stuck(pod(func(p *corev1.Pod) { p.DeletionTimestamp = ptrTime(ago(time.Second)) }), now, 5*time.Second), "being deleted")
	assert.False(t, stuck(pod(func(p *corev1.Pod) { p.Status.Conditions[0].LastTransitionTime = ago(time.Second) }), now, 5*time.Second), "just scheduled")
	assert.False(t, stuck(pod(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(2 * time.Second)}}}}
	}), now, 5*time.Second), "just started")
	nudged := ago(time.Second)
	assert.False(t, stuck(pod(func(p *corev1.Pod) { p.ManagedFields = []metav1.ManagedFieldsEntry{{Time: &nudged}} }), now, 5*time.Second), "just nudged")
	assert.True(t, stuck(pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }), now, 5*time.Second), "running, unchanged")
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }

func TestRequestsPerPodNamesTheLargestFirst(t *testing.T) {
	c := RequestCounts{
		{Verb: "POST", Resource: "pods"}:                            100,
		{Verb: "PUT", Resource: "testcases", Subresource: "status"}: 300,
		{Verb: "WATCH", Resource: "pods"}:                           -2,
		{Verb: "GET", Resource: "pods", Subresource: "log"}:         50,
	}
	assert.Equal(t, "API requests per pod (whole cluster) 4.50: PUT testcases/status 3.00, POST pods 1.00", requestsPerPod(c, 100, 2))
}

func TestParseMetricsReadsTheCPUFromTheSameText(t *testing.T) {
	m, err := ParseMetrics([]byte(metricsText + "process_cpu_seconds_total 12.5\n"))
	require.NoError(t, err)
	assert.Equal(t, 12.5, m.CPU)
	assert.NotEmpty(t, m.Requests)
	m, err = ParseMetrics([]byte(metricsText))
	require.NoError(t, err)
	assert.Equal(t, -1.0, m.CPU, "no CPU in the text")
}

// TestTailOf: the last lines of a file, long ones cut; a missing file says
// why.
func TestTailOf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kwok.log")
	require.NoError(t, os.WriteFile(path, []byte("one\ntwo\nthree\n"+strings.Repeat("x", 400)+"\n"), 0o644))
	assert.Equal(t, "three\n"+strings.Repeat("x", 300)+"...", tailOf(path, 2))
	assert.Equal(t, "one\ntwo\nthree\n"+strings.Repeat("x", 300)+"...", tailOf(path, 10))
	assert.Contains(t, tailOf(filepath.Join(t.TempDir(), "none"), 2), "no such file")
	err := &notReadyError{ready: 6, n: 10, log: path, tail: "last line"}
	assert.Equal(t, "6 of 10 fake nodes ready in time (log: "+path+"; its end:\nlast line)", err.Error())
}
