package k8s

import (
	"context"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// runInformer runs inf until ctx ends and returns a func that waits for it
// to stop. What client-go logs for it goes to the logger of ctx (klog's
// when ctx has none) while ctx lives and nowhere once ctx has ended: a
// watch cut by its own stop can end with an error that the reflector logs
// ("watch ended with error ... context canceled"), which is no news to
// anyone, least of all on a user's terminal.
func runInformer(ctx context.Context, inf cache.SharedIndexInformer) (wait func()) {
	sink := klog.FromContext(ctx).GetSink()
	if sink != nil {
		ctx = klog.NewContext(ctx, logr.New(untilDone{LogSink: sink, done: ctx.Done()}))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		inf.RunWithContext(ctx)
	}()
	return wg.Wait
}

// untilDone passes log records to its sink until done is closed.
type untilDone struct {
	logr.LogSink
	done <-chan struct{}
}

func (s untilDone) live() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (s untilDone) Enabled(level int) bool { return s.live() && s.LogSink.Enabled(level) }

func (s untilDone) Error(err error, msg string, keysAndValues ...any) {
	if s.live() {
		s.LogSink.Error(err, msg, keysAndValues...)
	}
}

func (s untilDone) WithValues(keysAndValues ...any) logr.LogSink {
	return untilDone{LogSink: s.LogSink.WithValues(keysAndValues...), done: s.done}
}

func (s untilDone) WithName(name string) logr.LogSink {
	return untilDone{LogSink: s.LogSink.WithName(name), done: s.done}
}
