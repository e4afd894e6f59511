package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// Up starts the cluster, or reuses it when it already runs and is healthy.
// Whatever a previous, broken or killed cluster left is cleaned up first.
func (c *Cluster) Up(ctx context.Context) error {
	began := time.Now()
	if s, ok, err := c.loadState(); err != nil {
		return err
	} else if ok {
		err := c.healthy(ctx, s)
		if err == nil {
			if err := c.writeEnv(s); err != nil {
				return err
			}
			fmt.Fprintf(c.out, "cluster %q is already running and healthy; reusing it (checked in %s)\n", c.Name, time.Since(began).Round(time.Millisecond))
			c.printUsage(s)
			return nil
		}
		c.log.Info("previous cluster is not healthy; cleaning it up before starting anew", "reason", err)
	}
	if err := c.teardown(ctx); err != nil {
		return fmt.Errorf("cleaning up before start: %w", err)
	}
	if report, err := c.scan(ctx); err != nil {
		return err
	} else if len(report) > 0 {
		return fmt.Errorf("leftovers of an earlier cluster remain, refusing to start:\n%s", report)
	}

	s, err := c.startAll(ctx)
	if err != nil {
		return fmt.Errorf("%w\n(logs are in %s; `down` cleans up what did start)", err, c.path("logs"))
	}
	fmt.Fprintf(c.out, "cluster %q is up (took %s)\n", c.Name, time.Since(began).Round(time.Second))
	c.printUsage(s)
	return nil
}

// startAll prepares and starts every component in the order that works:
// registry and images, containerd, etcd, API server, controllers, kubelet.
func (c *Cluster) startAll(ctx context.Context) (State, error) {
	if err := c.installPackages(ctx); err != nil {
		return State{}, err
	}
	version, err := c.kubeVersion()
	if err != nil {
		return State{}, err
	}
	binDir, err := c.kubeBinaries(ctx, version)
	if err != nil {
		return State{}, err
	}
	if err := c.checkPodCIDR(); err != nil {
		return State{}, err
	}
	nodeName, nodeIP, err := c.nodeIdentity()
	if err != nil {
		return State{}, err
	}
	prev, _, _ := c.loadState()
	ports, err := choosePorts(prev.Ports)
	if err != nil {
		return State{}, err
	}
	s := State{
		Ports:       ports,
		NodeName:    nodeName,
		NodeIP:      nodeIP,
		KubeVersion: version,
		KubeBinDir:  binDir,
		Started:     time.Now().UTC(),
	}
	s.PauseImage = fmt.Sprintf("%s/%s:%s", s.registry(), pauseRepo, pauseTag)
	c.log.Info("starting cluster", "name", c.Name, "dir", c.Dir, "node", nodeName, "nodeIP", nodeIP, "kubernetes", version)

	if err := c.footprint().Save(); err != nil {
		return s, err
	}
	if err := c.rotateLogs(); err != nil {
		return s, err
	}
	p, err := c.loadOrCreatePKI()
	if err != nil {
		return s, err
	}
	if err := c.issueAll(p, s); err != nil {
		return s, err
	}
	if err := c.saveState(s); err != nil {
		return s, err
	}
	if err := c.writeAuditPolicy(); err != nil {
		return s, err
	}

	regComp, err := c.registryComponent(s)
	if err != nil {
		return s, err
	}
	if err := c.startWait(ctx, regComp, "/v2/", 15*time.Second, registryReady(s.registry())); err != nil {
		return s, err
	}
	// The base image may need a minute of debootstrap; it is only needed
	// once the cluster is up, so it is built while the cluster starts.
	var (
		g                          errgroup.Group
		baseRef, matrixRef, kubRef string
	)
	g.Go(func() error {
		var err error
		if baseRef, err = c.pushBase(ctx, s); err != nil {
			return err
		}
		if matrixRef, err = c.pushMatrixBase(ctx, s); err != nil {
			return err
		}
		kubRef, err = c.pushKubernetesBase(ctx, s)
		return err
	})
	startErr := c.startRuntimeAndControlPlane(ctx, s)
	baseErr := g.Wait()
	if err := errors.Join(startErr, baseErr); err != nil {
		return s, err
	}
	s.BaseImage, s.MatrixBaseImage, s.KubernetesBaseImage = baseRef, matrixRef, kubRef
	if err := c.saveState(s); err != nil {
		return s, err
	}
	return s, c.writeEnv(s)
}

func (c *Cluster) startRuntimeAndControlPlane(ctx context.Context, s State) error {
	if _, err := c.pushPause(ctx, s); err != nil {
		return err
	}
	ctrd, err := c.containerd(s)
	if err != nil {
		return err
	}
	if err := c.startWait(ctx, ctrd, "socket", 30*time.Second, socketReady(c.containerdSocket())); err != nil {
		return err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d/health", s.Ports.EtcdClient)
	if err := c.startWait(ctx, c.etcd(s), "/health", 30*time.Second, httpOK(etcdURL)); err != nil {
		return err
	}
	cs, err := c.client()
	if err != nil {
		return err
	}
	if err := c.startWait(ctx, c.apiServer(s), "/readyz", 60*time.Second, apiReady(cs)); err != nil {
		return err
	}
	if err := c.startWait(ctx, c.controllerManager(s), "/healthz", 30*time.Second, secureHealthz(s.Ports.ControllerManager)); err != nil {
		return err
	}
	if err := c.startWait(ctx, c.scheduler(s), "/healthz", 30*time.Second, secureHealthz(s.Ports.Scheduler)); err != nil {
		return err
	}
	if err := c.prepareCgroupRoot(); err != nil {
		return err
	}
	kl, err := c.kubelet(s)
	if err != nil {
		return err
	}
	kp, err := c.start(kl)
	if err != nil {
		return err
	}
	healthz := fmt.Sprintf("http://127.0.0.1:%d/healthz", s.Ports.KubeletHealthz)
	if err := c.waitReady(ctx, kp, "/healthz", 60*time.Second, httpOK(healthz)); err != nil {
		return err
	}
	if err := c.waitReady(ctx, kp, "node Ready", 120*time.Second, nodeReady(cs, s.NodeName)); err != nil {
		return err
	}
	// The controller-manager creates the ServiceAccount; it is waited for
	// with the kubelet only because that is the last process started.
	return c.waitReady(ctx, kp, "default ServiceAccount", 60*time.Second, serviceAccountReady(cs))
}

// startWait starts a component and waits until check passes.
func (c *Cluster) startWait(ctx context.Context, comp component, what string, timeout time.Duration, check func(context.Context) error) error {
	p, err := c.start(comp)
	if err != nil {
		return err
	}
	return c.waitReady(ctx, p, what, timeout, check)
}

// secureHealthz checks a control-plane component's /healthz on its HTTPS
// port. The component serves a self-signed certificate of its own; the
// check only asks whether the process on this loopback port is healthy.
func secureHealthz(port int) func(context.Context) error {
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe
	}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/healthz", port), nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz answered %s", resp.Status)
		}
		return nil
	}
}

// notHealthyError is a cluster that is not (fully) running.
type notHealthyError struct{ reasons []string }

func (e *notHealthyError) Error() string {
	return "cluster is not healthy:\n  " + strings.Join(e.reasons, "\n  ")
}

// healthy checks that every process runs and the cluster answers: API
// server, node, default ServiceAccount, and both images in the registry.
func (c *Cluster) healthy(ctx context.Context, s State) error {
	var reasons []string
	for _, name := range stopOrder {
		if !c.running(name) {
			reasons = append(reasons, name+" is not running")
		}
	}
	if len(reasons) > 0 {
		return &notHealthyError{reasons}
	}
	cs, err := c.client()
	if err != nil {
		return &notHealthyError{[]string{err.Error()}}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	checks := []struct {
		what  string
		check func(context.Context) error
	}{
		{"API server", apiReady(cs)},
		{"node", nodeReady(cs, s.NodeName)},
		{"default ServiceAccount", serviceAccountReady(cs)},
		{"pause image", func(ctx context.Context) error { return imagePresent(ctx, s.PauseImage) }},
		{"base image", func(ctx context.Context) error { return imagePresent(ctx, s.BaseImage) }},
		{"matrix base image", func(ctx context.Context) error { return imagePresent(ctx, s.MatrixBaseImage) }},
		{"kubernetes base image", func(ctx context.Context) error { return imagePresent(ctx, s.KubernetesBaseImage) }},
		{"audit log", func(context.Context) error { return c.auditLogPresent() }},
	}
	for _, ch := range checks {
		if err := ch.check(ctx); err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", ch.what, err))
		}
	}
	if len(reasons) > 0 {
		return &notHealthyError{reasons}
	}
	return nil
}

// Status reports each component and the cluster's health.
func (c *Cluster) Status(ctx context.Context) error {
	s, ok, err := c.loadState()
	if err != nil {
		return err
	}
	if !ok {
		return &notHealthyError{[]string{fmt.Sprintf("no cluster %q in %s", c.Name, c.Dir)}}
	}
	for i := len(stopOrder) - 1; i >= 0; i-- {
		name := stopOrder[i]
		rec, found, _ := c.readPidfile(name)
		switch {
		case found && rec.alive():
			fmt.Fprintf(c.out, "%-24s running, pid %d\n", name, rec.PID)
		default:
			fmt.Fprintf(c.out, "%-24s not running\n", name)
		}
	}
	if err := c.healthy(ctx, s); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "cluster %q is healthy (started %s)\n", c.Name, s.Started.Local().Format(time.RFC3339))
	c.printUsage(s)
	return nil
}

// writeEnv writes the file that e2e tests and developers source: the
// cluster is described to the tests only through these variables, so the
// same tests run against any cluster that sets them.
func (c *Cluster) writeEnv(s State) error {
	vars := []struct{ k, v string }{
		{"KUBECONFIG", c.kubeconfigPath()},
		{"K8S_TESTRUN_REGISTRY", s.registry()},
		{"K8S_TESTRUN_BASE_IMAGE", s.BaseImage},
		{"K8S_TESTRUN_MATRIX_BASE_IMAGE", s.MatrixBaseImage},
		{"K8S_TESTRUN_KUBERNETES_BASE_IMAGE", s.KubernetesBaseImage},
		{"K8S_TESTRUN_AUDIT_LOG", c.auditLogPath()},
		{"K8S_TESTRUN_CLUSTER_DIR", c.Dir},
	}
	var b strings.Builder
	b.WriteString("# Written by `go run ./hack/cluster up`. Use: set -a; . " + c.envPath() + "; set +a\n")
	for _, kv := range vars {
		fmt.Fprintf(&b, "%s=%s\n", kv.k, shellQuote(kv.v))
	}
	return writeFileAtomic(c.envPath(), []byte(b.String()), 0o644)
}

func (c *Cluster) printUsage(s State) {
	w := c.out
	fmt.Fprintf(w, "  kubeconfig:  %s\n", c.kubeconfigPath())
	fmt.Fprintf(w, "  registry:    %s (plain HTTP)\n", s.registry())
	fmt.Fprintf(w, "  base image:  %s\n", s.BaseImage)
	fmt.Fprintf(w, "  matrix base: %s\n", s.MatrixBaseImage)
	fmt.Fprintf(w, "  client base: %s (python3-kubernetes)\n", s.KubernetesBaseImage)
	fmt.Fprintf(w, "  audit log:   %s\n", c.auditLogPath())
	fmt.Fprintf(w, "  kubectl:     %s\n", filepath.Join(s.KubeBinDir, "kubectl"))
	fmt.Fprintf(w, "  env file:    %s\n", c.envPath())
	fmt.Fprintf(w, "  e2e tests:   set -a; . %s; set +a; go test -tags e2e ./test/e2e/\n", c.envPath())
	fmt.Fprintf(w, "  stop:        go run ./hack/cluster down --name %s --dir %s\n", c.Name, c.Dir)
}

// shellQuote quotes v for sh when it holds anything but safe characters.
func shellQuote(v string) string {
	safe := v != ""
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:@+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// RestartAPIServer stops the running cluster's API server and starts it
// again with the same configuration, waiting until it is ready.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	return c.restart(ctx, nameAPIServer, "the API server", 10*time.Second, func(s State) (component, readiness, error) {
		cs, err := c.client()
		if err != nil {
			return component{}, readiness{}, err
		}
		if err := c.writeAuditPolicy(); err != nil {
			return component{}, readiness{}, err
		}
		return c.apiServer(s), readiness{"/readyz", 60 * time.Second, apiReady(cs)}, nil
	})
}

// RestartContainerd stops the running cluster's containerd and starts it
// again with the configuration this program writes now; the containers it
// runs keep running under their shims.
func (c *Cluster) RestartContainerd(ctx context.Context) error {
	return c.restart(ctx, nameContainerd, "containerd", 15*time.Second, func(s State) (component, readiness, error) {
		comp, err := c.containerd(s)
		return comp, readiness{"socket", 30 * time.Second, socketReady(c.containerdSocket())}, err
	})
}

// readiness is what startWait waits for: a check, named, within a time.
type readiness struct {
	what    string
	timeout time.Duration
	check   func(context.Context) error
}

// restart stops the running cluster's component name (SIGKILL after grace)
// and starts what prepare gives, waiting until it is ready.
func (c *Cluster) restart(ctx context.Context, name, title string, grace time.Duration, prepare func(State) (component, readiness, error)) error {
	s, ok, err := c.loadState()
	if err != nil {
		return err
	}
	if !ok || !c.running(name) {
		return fmt.Errorf("cluster %q runs no %s; start it with `up`", c.Name, name)
	}
	began := time.Now()
	comp, ready, err := prepare(s)
	if err != nil {
		return err
	}
	if err := c.stop(ctx, name, grace); err != nil {
		return err
	}
	if err := c.startWait(ctx, comp, ready.what, ready.timeout, ready.check); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "restarted %s of cluster %q (took %s)\n", title, c.Name, time.Since(began).Round(time.Millisecond))
	return nil
}
