package k8s

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// loggingInformer logs through the logger of the context it runs with,
// once while it runs and again after its context has ended, as a reflector
// does when its own stop cuts a watch.
type loggingInformer struct {
	cache.SharedIndexInformer
	running chan struct{}
}

func (i loggingInformer) RunWithContext(ctx context.Context) {
	log := klog.FromContext(ctx).WithName("reflector").WithValues("type", "*v1.Pod")
	log.Info("listed")
	close(i.running)
	<-ctx.Done()
	log.Info("Warning: watch ended with error", "err", "context canceled")
	log.Error(errors.New("context canceled"), "Failed to watch")
}

func TestRunInformerDropsWhatIsLoggedAfterItsStop(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	sink := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, prefix+" "+args)
	}, funcr.Options{})
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), sink))

	inf := loggingInformer{running: make(chan struct{})}
	wait := runInformer(ctx, inf)
	<-inf.running
	cancel()
	wait()

	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, `"msg"="listed"`, "records while the informer runs reach the logger")
	assert.Contains(t, all, `"type"="*v1.Pod"`, "with their values")
	assert.NotContains(t, all, "watch ended with error", "nothing after the stop")
	assert.NotContains(t, all, "Failed to watch", "errors after the stop neither")
	assert.Len(t, lines, 1)
}

func TestUntilDoneKeepsItsStopThroughDerivedLoggers(t *testing.T) {
	var n int
	done := make(chan struct{})
	log := logr.New(untilDone{LogSink: funcr.New(func(string, string) { n++ }, funcr.Options{}).GetSink(), done: done})
	derived := log.WithName("a").WithValues("k", "v")
	derived.Info("before")
	close(done)
	derived.Info("after")
	derived.Error(errors.New("x"), "after")
	log.Info("after")
	assert.Equal(t, 1, n)
}
