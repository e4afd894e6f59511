package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
	"github.com/k8s-testrun/k8s-testrun/manifests"
)

// b8Operator runs the operator as a child process of the harness (`k8s-testrun
// operator` against the session's kubeconfig, watching its namespace, with
// B8's client limits) and times one TestRun that names every test, from
// its create to its finished phase. The CRDs are created when the cluster
// has none, and deleted afterwards when B8 created them and no operator is
// installed.
func b8Operator(ctx context.Context, s *Session, o Options) (b8Arm, error) {
	arm := b8Arm{Name: "operator"}
	scheme, err := operator.Scheme()
	if err != nil {
		return arm, err
	}
	c, err := client.New(s.Cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		return arm, err
	}
	op, err := s.startOperator(ctx, o)
	if err != nil {
		return arm, err
	}
	defer op.stop()

	raw, err := jsonRaw(s.b8Template())
	if err != nil {
		return arm, err
	}
	sidecar := "container"
	if s.Native {
		sidecar = "native"
	}
	run := &v1alpha1.TestRun{
		ObjectMeta: metav1.ObjectMeta{Name: "b8-" + newRunID(), Namespace: s.Namespace},
		Spec: v1alpha1.TestRunSpec{
			Image: s.BaseImage, Tests: b8IDs(o.B8N), Parallelism: int32(o.B8P),
			Timeout: &metav1.Duration{Duration: caseTimeout}, InfraRetries: ptr.To(int32(0)),
			Sidecar: sidecar, PodTemplate: &runtime.RawExtension{Raw: raw},
		},
	}
	defer s.cleanTestRun(ctx, c, run)
	s.Log.Info("B8 operator", "testrun", run.Name, "tests", o.B8N, "parallelism", o.B8P)
	start := time.Now()
	if err := c.Create(ctx, run); err != nil {
		return arm, fmt.Errorf("creating TestRun: %w", err)
	}
	final, err := waitFinished(ctx, c, client.ObjectKeyFromObject(run), op)
	if err != nil {
		return arm, err
	}
	arm.Wall = time.Since(start)
	if arm.RSS, err = processPeakRSS(op.cmd.Process.Pid); err != nil {
		return arm, fmt.Errorf("reading the operator's peak RSS: %w", err)
	}
	st := final.Status
	if st.Phase == v1alpha1.RunError || int(st.Total) != o.B8N || st.Active != 0 {
		return arm, fmt.Errorf("TestRun %s ended %s with %d of %d tests, %d active: %s (operator log: %s)", run.Name, st.Phase, st.Total, o.B8N, st.Active, st.Message, op.log)
	}
	arm.Pods = o.B8N
	arm.Notes = append(arm.Notes, fmt.Sprintf("TestRun %s: phase %s, passed %d, failed %d, errors %d (fake pods have no collector log)",
		run.Name, st.Phase, st.Passed, st.Failed, st.Errors))
	return arm, nil
}

// operatorChild is the operator running as a child process.
type operatorChild struct {
	cmd  *exec.Cmd
	done chan error
	log  string
}

// startOperator starts `k8s-testrun operator` and waits until it answers
// /readyz.
func (s *Session) startOperator(ctx context.Context, o Options) (*operatorChild, error) {
	port, err := closedPort()
	if err != nil {
		return nil, err
	}
	probe := "127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(s.Dir, "operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(s.Binary, "operator", "--kubeconfig", s.Kubeconfig, "--watch-namespace", s.Namespace,
		"--metrics-bind-address", "0", "--health-probe-bind-address", probe,
		"--kube-api-qps", strconv.FormatFloat(o.B8QPS, 'g', -1, 64), "--kube-api-burst", strconv.Itoa(o.B8Burst))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the operator: %w", err)
	}
	op := &operatorChild{cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() { op.done <- cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + probe + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return op, nil
			}
		}
		select {
		case err := <-op.done:
			op.done <- err
			return nil, fmt.Errorf("the operator exited: %v (log: %s)", err, logPath)
		case <-ctx.Done():
			op.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			op.stop()
			return nil, fmt.Errorf("the operator was not ready within a minute (log: %s)", logPath)
		}
	}
}

// stop ends the operator: SIGTERM, then SIGKILL after ten seconds.
func (op *operatorChild) stop() {
	_ = op.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-op.done:
	case <-time.After(10 * time.Second):
		_ = op.cmd.Process.Kill()
		<-op.done
	}
}

// waitFinished polls the TestRun once a second until its phase is a
// finished one.
func waitFinished(ctx context.Context, c client.Client, key client.ObjectKey, op *operatorChild) (*v1alpha1.TestRun, error) {
	run := &v1alpha1.TestRun{}
	for {
		if err := c.Get(ctx, key, run); err != nil {
			return nil, fmt.Errorf("reading TestRun %s: %w", key.Name, err)
		}
		if run.Status.Phase.Finished() {
			return run, nil
		}
		select {
		case err := <-op.done:
			op.done <- err
			return nil, fmt.Errorf("the operator exited mid-run: %v (log: %s)", err, op.log)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// cleanTestRun deletes the run, its TestCases, its pods and its
// ConfigMaps, and waits for the pods and TestCases to go.
func (s *Session) cleanTestRun(ctx context.Context, c client.Client, run *v1alpha1.TestRun) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*cleanupTimeout)
	defer cancel()
	sel := client.MatchingLabels{k8s.LabelRun: run.Name}
	errs := []error{
		client.IgnoreNotFound(c.Delete(cctx, run)),
		c.DeleteAllOf(cctx, &v1alpha1.TestCase{}, client.InNamespace(s.Namespace), sel),
		s.cleanRun(cctx, run.Name),
		s.Cluster.Client.CoreV1().ConfigMaps(s.Namespace).DeleteCollection(cctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: k8s.RunSelector(run.Name)}),
	}
	for {
		list := &v1alpha1.TestCaseList{}
		if err := c.List(cctx, list, client.InNamespace(s.Namespace), sel); err != nil {
			errs = append(errs, err)
			break
		}
		if len(list.Items) == 0 {
			break
		}
		if cctx.Err() != nil {
			errs = append(errs, fmt.Errorf("%d TestCases left", len(list.Items)))
			break
		}
		time.Sleep(time.Second)
	}
	if err := errors.Join(errs...); err != nil {
		s.Log.Warn("cleaning up the TestRun", "testrun", run.Name, "error", err)
	}
}

// ensureCRDs creates the operator's CRDs when the cluster lacks them and
// waits until the API serves them. The returned func deletes the ones it
// created, unless an operator has been installed meanwhile.
func (s *Session) ensureCRDs(ctx context.Context) (func(), error) {
	objs, err := manifests.BuildScoped(manifests.Default, manifests.Scope{Namespaces: []string{s.Namespace}})
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(s.Cluster.Config)
	if err != nil {
		return nil, err
	}
	crdRes := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	var created []*unstructured.Unstructured
	remove := func() {
		if len(created) == 0 {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, found, err := operatorDeployment(cctx, s.Cluster.Client, objs); err != nil || found {
			s.Log.Info("leaving the CRDs: an operator is installed", "error", err)
			return
		}
		for _, o := range created {
			if err := dyn.Resource(crdRes).Delete(cctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				s.Log.Warn("deleting CRD", "name", o.GetName(), "error", err)
			}
		}
	}
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		_, err := dyn.Resource(crdRes).Create(ctx, o, metav1.CreateOptions{})
		switch {
		case err == nil:
			created = append(created, o)
		case apierrors.IsAlreadyExists(err):
		default:
			remove()
			return nil, fmt.Errorf("creating CRD %s: %w", o.GetName(), err)
		}
	}
	gv := v1alpha1.GroupVersion.String()
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := s.Cluster.Client.Discovery().ServerResourcesForGroupVersion(gv)
		if err == nil && len(list.APIResources) >= 2 {
			return remove, nil
		}
		if time.Now().After(deadline) {
			remove()
			return nil, fmt.Errorf("the API does not serve %s within a minute: %v", gv, err)
		}
		select {
		case <-ctx.Done():
			remove()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
