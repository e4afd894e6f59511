// Package k8stest holds helpers for tests that drive internal/k8s with
// client-go's fake clientset.
package k8stest

import (
	"sync"

	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// NodeWatchStarted is closed once an informer's watch of nodes is
// registered with the fake clientset's tracker, which replays nothing a
// watch missed: a test changes nodes only after it.
func NodeWatchStarted(client *fake.Clientset) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	client.PrependWatchReactor("nodes", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := client.Tracker().Watch(a.GetResource(), a.GetNamespace(), a.(k8stesting.WatchActionImpl).ListOptions)
		once.Do(func() { close(ch) })
		return true, w, err
	})
	return ch
}
