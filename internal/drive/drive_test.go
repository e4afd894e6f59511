package drive

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

func TestExecutorPoolsAreBoundedAndApart(t *testing.T) {
	x := New(1, 1)
	release := make(chan struct{})
	require.True(t, x.Read(func() func() error { <-release; return func() error { return errors.New("read") } }))
	assert.False(t, x.Read(func() func() error { return nil }), "a busy read pool turns a read away")
	var order []string
	require.True(t, x.Call(func() func() error {
		return func() error { order = append(order, "call"); return nil }
	}), "a call goes out while every reader is busy")
	<-x.Woken()
	require.NoError(t, x.Apply())
	assert.Equal(t, []string{"call"}, order, "the completion runs on Apply, not on the worker")
	close(release)
	x.Wait()
	assert.EqualError(t, x.Apply(), "read", "a completion's error comes back from Apply")
	assert.NoError(t, x.Apply(), "each completion runs once")
	assert.True(t, x.Read(func() func() error { return nil }), "the read pool is free again")
	x.Wait()
}

func TestResultsReadOncePerKeyUntilTaken(t *testing.T) {
	x := New(1, 2)
	r := NewResults[string, int](x)
	woken := make(chan string, 4)
	r.Done = func(k string) { woken <- k }
	release := make(chan struct{})
	reads := 0
	read := func() int { reads++; <-release; return 42 }
	_, ok := r.Take("a", read)
	assert.False(t, ok, "the first ask starts the read and returns at once")
	_, ok = r.Take("a", read)
	assert.False(t, ok)
	assert.True(t, r.Running("a"))
	close(release)
	assert.Equal(t, "a", <-woken, "the read's end wakes the loop")
	v, ok := r.Take("a", read)
	require.True(t, ok)
	assert.Equal(t, 42, v)
	assert.Equal(t, 1, reads, "one read per key while it runs or waits to be taken")
	assert.False(t, r.Running("a"), "a taken result is forgotten")
	_, ok = r.Take("a", read)
	assert.False(t, ok, "a key asked again after its result was taken is read again")
	<-woken
	r.Wait()
	assert.True(t, r.Busy(), "a result not yet taken")
	r.ForgetIf(func(k string) bool { return k == "a" })
	assert.False(t, r.Running("a"))
	assert.False(t, r.Busy())
}

func TestPendingShowsCreatedPodsUntilSeenOrExpired(t *testing.T) {
	var c Pending
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c.Add(plan.Pod{Name: "a"}, now)
	c.Add(plan.Pod{Name: "b"}, now)
	c.Add(plan.Pod{Name: "c"}, now.Add(-PendingGrace-time.Second))
	assert.True(t, c.Has("a"))
	obs := c.Merge([]plan.Pod{{Name: "x"}}, func(n string) bool { return n == "b" }, now)
	names := []string{}
	for _, o := range obs {
		names = append(names, o.Name)
	}
	assert.ElementsMatch(t, []string{"x", "a"}, names, "b was seen, c expired")
	assert.False(t, c.Has("b"))
	assert.False(t, c.Has("c"))
	c.Remove("a")
	assert.Empty(t, c.Merge(nil, func(string) bool { return false }, now))
}
