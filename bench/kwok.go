package bench

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KwokVersion is the kwok release built from its Go module for B5.
const KwokVersion = "v0.8.0"

// kwokTaint keeps every pod but the benchmark's off the fake node.
const kwokTaint = "kwok.x-k8s.io/node"

//go:embed kwok/stages.yaml
var kwokStages []byte

// kwokBinary returns the kwok controller, building it from the module into
// the user cache the first time (a few minutes on two cores).
func kwokBinary(ctx context.Context, given string, s *Session) (string, error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", fmt.Errorf("-kwok: %w", err)
		}
		return given, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "k8s-testrun", "kwok", KwokVersion)
	bin := filepath.Join(dir, "kwok")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	s.Log.Info("building kwok from its Go module, once", "version", KwokVersion, "into", dir)
	cmd := exec.CommandContext(ctx, "go", "install", "sigs.k8s.io/kwok/cmd/kwok@"+KwokVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building kwok %s: %w (or give -kwok)", KwokVersion, err)
	}
	return bin, nil
}

// Kwok is a kwok controller managing one fake node of the session.
type Kwok struct {
	Node  string
	cmd   *exec.Cmd
	done  chan error
	proxy *apiProxy
}

// StartKwok creates the fake node and starts kwok on it, and returns once
// the node is Ready. The node's kubelet address is a closed loopback port,
// so that a log read of a fake pod fails at once and goes nowhere else.
func (s *Session) StartKwok(ctx context.Context, binary string) (*Kwok, error) {
	name := "ktr-bench-kwok-" + s.ID
	if _, err := s.Cluster.Client.CoreV1().Nodes().Create(ctx, s.fakeNode(name), metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("creating fake node: %w", err)
	}
	s.kwokNode = name
	k, err := s.startKwok(ctx, binary, 1, "--manage-single-node", name)
	if err != nil {
		return nil, err
	}
	k.Node = name
	return k, nil
}

// StartKwokNodes creates n fake nodes, all labelled with the session's id,
// starts one kwok on them, and returns once every one is Ready.
func (s *Session) StartKwokNodes(ctx context.Context, binary string, n int) (*Kwok, error) {
	for i := range n {
		name := fmt.Sprintf("ktr-bench-kwok-%s-%03d", s.ID, i)
		if _, err := s.Cluster.Client.CoreV1().Nodes().Create(ctx, s.fakeNode(name), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("creating fake node %s: %w", name, err)
		}
		s.kwokNodes = append(s.kwokNodes, name)
	}
	manage := []string{"--manage-nodes-with-label-selector", LabelBench + "=" + s.ID}
	k, err := s.startKwok(ctx, binary, n, manage...)
	var nr *notReadyError
	if errors.As(err, &nr) {
		// Seen twice in a dozen starts: some nodes never turned Ready,
		// and the next start readied them all. Once more, then give up.
		s.Log.Warn("kwok: starting again", "error", err)
		k, err = s.startKwok(ctx, binary, n, manage...)
	}
	return k, err
}

// notReadyError is a kwok start whose nodes were not all Ready in time.
type notReadyError struct {
	ready, n  int
	log, tail string
}

func (e *notReadyError) Error() string {
	return fmt.Sprintf("%d of %d fake nodes ready in time (log: %s; its end:\n%s)", e.ready, e.n, e.log, e.tail)
}

// tailOf is the last lines of a file, each cut to 300 bytes, or why not.
func tailOf(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	all = all[max(0, len(all)-lines):]
	for i, l := range all {
		if len(l) > 300 {
			all[i] = l[:300] + "..."
		}
	}
	return strings.Join(all, "\n")
}

// fakeNode is a node for kwok: tainted so that only the benchmark's pods
// go there, labelled with the session's id.
func (s *Session) fakeNode(name string) *corev1.Node {
	qty := resource.MustParse
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{LabelBench: s.ID, "type": "kwok", corev1.LabelHostname: name},
			Annotations: map[string]string{kwokTaint: "fake"},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: kwokTaint, Value: "fake", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: qty("1000"), corev1.ResourceMemory: qty("1Ti"), corev1.ResourcePods: qty("10000")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: qty("1000"), corev1.ResourceMemory: qty("1Ti"), corev1.ResourcePods: qty("10000")},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
				{Type: corev1.NodeHostName, Address: "localhost"},
			},
		},
	}
}

// startKwok starts kwok with the given node-management flags and waits
// until n nodes of the session are Ready.
func (s *Session) startKwok(ctx context.Context, binary string, n int, manage ...string) (*Kwok, error) {
	config := filepath.Join(s.Dir, "kwok.yaml")
	if err := os.WriteFile(config, kwokStages, 0o644); err != nil {
		return nil, err
	}
	port, err := closedPort()
	if err != nil {
		return nil, err
	}
	proxy, err := startAPIProxy(s.Cluster.Config, s.Dir)
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(s.Dir, "kwok.log"))
	if err != nil {
		proxy.Close()
		return nil, err
	}
	defer logFile.Close()
	args := append([]string{"--kubeconfig", proxy.kubeconfig}, manage...)
	cmd := exec.Command(binary, append(args,
		"--config", config,
		"--node-ip", "127.0.0.1",
		"--node-port", fmt.Sprint(port),
		"--node-lease-duration-seconds", "40",
	)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		proxy.Close()
		return nil, fmt.Errorf("starting kwok: %w", err)
	}
	k := &Kwok{cmd: cmd, done: make(chan error, 1), proxy: proxy}
	go func() { k.done <- cmd.Wait() }()

	deadline := time.Now().Add(time.Minute + time.Duration(n)*time.Second)
	for {
		ready, err := s.readyFakeNodes(ctx)
		if err != nil {
			k.Stop()
			return nil, err
		}
		if ready >= n {
			renewed, err := s.renewedLeases(ctx)
			if err != nil {
				k.Stop()
				return nil, err
			}
			if renewed >= n {
				return k, nil
			}
		}
		select {
		case err := <-k.done:
			proxy.Close()
			return nil, fmt.Errorf("kwok exited before the nodes were ready: %v (log: %s)", err, logFile.Name())
		case <-ctx.Done():
			k.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			k.Stop()
			return nil, &notReadyError{ready: ready, n: n, log: logFile.Name(), tail: tailOf(logFile.Name(), 10)}
		}
	}
}

// renewedLeases counts the session's fake nodes whose lease kwok has
// renewed at least once since creating it. kwok plays a node's pods only while its lease
// cache shows the lease held; a lease it created may be missing from that
// cache until its first renewal, and pods bound to the node meanwhile are
// skipped for good (kwok plays a pod on its events only).
func (s *Session) renewedLeases(ctx context.Context) (int, error) {
	leases, err := s.Cluster.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	nodes := map[string]bool{s.kwokNode: s.kwokNode != ""}
	for _, n := range s.kwokNodes {
		nodes[n] = true
	}
	renewed := 0
	for _, l := range leases.Items {
		sp := l.Spec
		if nodes[l.Name] && sp.HolderIdentity != nil && sp.RenewTime != nil && sp.RenewTime.Sub(l.CreationTimestamp.Time) > 2*time.Second {
			renewed++
		}
	}
	return renewed, nil
}

// readyFakeNodes counts the session's fake nodes whose Ready condition is
// True.
func (s *Session) readyFakeNodes(ctx context.Context) (int, error) {
	nodes, err := s.Cluster.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: LabelBench + "=" + s.ID})
	if err != nil {
		return 0, err
	}
	ready := 0
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, nil
}

// Stop ends kwok: SIGTERM, then SIGKILL after ten seconds.
func (k *Kwok) Stop() {
	defer k.proxy.Close()
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(10 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}

// deleteKwokNode removes the fake nodes, if any.
func (s *Session) deleteKwokNode(ctx context.Context) {
	if s.kwokNode != "" {
		s.kwokNodes = append(s.kwokNodes, s.kwokNode)
		s.kwokNode = ""
	}
	var left []string
	for _, name := range s.kwokNodes {
		err := s.Cluster.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			s.Log.Warn("deleting fake node", "node", name, "error", err)
			left = append(left, name)
		}
	}
	s.kwokNodes = left
}

// closedPort returns a loopback port that nothing listens on.
func closedPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, errors.Join(l.Close())
}
