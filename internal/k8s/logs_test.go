package k8s

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// endlessLog is a log that never ends.
type endlessLog struct{}

func (endlessLog) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestReadAtMost(t *testing.T) {
	b, more, err := readAtMost(endlessLog{}, 1000)
	require.NoError(t, err)
	assert.True(t, more)
	assert.Len(t, b, 1000)

	b, more, err = readAtMost(bytes.NewReader(make([]byte, 1000)), 1000)
	require.NoError(t, err)
	assert.False(t, more, "exactly the limit is within it")
	assert.Len(t, b, 1000)
}

// logServer serves a log of size bytes, honouring limitBytes unless told
// to ignore it.
func logServer(t *testing.T, size int64, honour bool) kubernetes.Interface {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := size
		if l := r.URL.Query().Get("limitBytes"); honour && l != "" {
			lim, err := strconv.ParseInt(l, 10, 64)
			require.NoError(t, err)
			n = min(n, lim)
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.Copy(w, io.LimitReader(endlessLog{}, n))
	}))
	t.Cleanup(srv.Close)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	return client
}

func TestLogsWithinRefusesALongerLog(t *testing.T) {
	ctx := context.Background()
	for _, honour := range []bool{true, false} {
		t.Run(fmt.Sprintf("server honours limitBytes: %v", honour), func(t *testing.T) {
			b, err := LogsWithin(ctx, logServer(t, 2<<20, honour), "ns", "p", "test", 2<<20)
			require.NoError(t, err)
			assert.Len(t, b, 2<<20)

			_, err = LogsWithin(ctx, logServer(t, 3<<20, honour), "ns", "p", "test", 2<<20)
			var tooLarge *LogTooLargeError
			require.ErrorAs(t, err, &tooLarge)
			assert.Equal(t, "the log of p/test is larger than the 2 MiB k8s-testrun reads", err.Error())

			b, err = Logs(ctx, logServer(t, 3<<20, honour), "ns", "p", "test", 1<<20)
			require.NoError(t, err, "Logs cuts to its limit")
			assert.Len(t, b, 1<<20)
		})
	}
}

// TestRunOnceCapsTheLog runs a discovery pod against the fake clientset,
// whose logs are the 9 bytes "fake logs", under a cap of 4 bytes.
func TestRunOnceCapsTheLog(t *testing.T) {
	defer func(n int64) { maxOneOffLog = n }(maxOneOffLog)
	client := fake.NewClientset()
	// The pod ends as soon as it is created.
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		pod.Status.Phase = corev1.PodSucceeded
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: TestContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
		return false, nil, nil
	})
	pod, err := OneOffPod(OneOffOptions{Namespace: "ns", RunID: "r", Role: "discover", Image: "img", Command: []string{"true"}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, log, err := RunOnce(ctx, client, pod.DeepCopy(), ObserveOptions{})
	require.NoError(t, err)
	assert.Equal(t, "fake logs", string(log))

	maxOneOffLog = 4
	_, _, err = RunOnce(ctx, client, pod.DeepCopy(), ObserveOptions{})
	var tooLarge *LogTooLargeError
	require.ErrorAs(t, err, &tooLarge)
	assert.EqualValues(t, 4, tooLarge.Limit)
	assert.Contains(t, err.Error(), "is larger than the 4 bytes k8s-testrun reads")
}

// TestRunOnceEndsWhenTheWatchMissesThePod: a watch that never delivers the
// pod (as a fake clientset's misses a pod created between its list and
// its watch) does not keep RunOnce waiting: it asks for the pod itself
// once a tick.
func TestRunOnceEndsWhenTheWatchMissesThePod(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		pod.Status.Phase = corev1.PodSucceeded
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: TestContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
		return false, nil, nil
	})
	// Every watch is one that never sends an event.
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil
	})
	pod, err := OneOffPod(OneOffOptions{Namespace: "ns", RunID: "r", Role: "discover", Image: "img", Command: []string{"true"}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	out, log, err := RunOnce(ctx, client, pod, ObserveOptions{})
	require.NoError(t, err, "RunOnce ends although its watch never saw the pod")
	assert.Equal(t, int32(0), out.ExitCode)
	assert.Equal(t, "fake logs", string(log))
}
