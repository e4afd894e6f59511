package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/manifests"
)

// B7Target bounds operator mode's wall time / direct mode's on the real
// suite, one pod per test.
const B7Target = 1.05

// b7 times, on a sample of the real suite, the CLI one pod per test in
// direct mode (`k8s-testrun run`) against the same run through the
// operator (`k8s-testrun run --mode operator`), installed in the cluster
// from the suite's test image for the session; rounds alternate which goes
// first. Both reports must give every test the same verdict.
func b7(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B7", Name: "operator overhead, real suite (operator mode / direct mode)", Target: fmt.Sprintf("≤ %.2f", B7Target), Pass: true}
	rs, err := s.RealSuite(ctx, o.RealSelect)
	if err != nil {
		return f, err
	}
	ids := SampleIDs(rs.IDs, o.RealN)
	// The same tests in both modes, named after "--" as a user would.
	sample := *rs
	sample.Selection = ids
	f.Notes = append(f.Notes, fmt.Sprintf("%d of the suite's %d tests, spread evenly over it (-real-n), parallelism %d", len(ids), len(rs.IDs), o.B6P))

	overlay := o.B7Overlay
	if overlay == "" || overlay == "auto" {
		overlay = autoOverlay(os.Getenv)
	}
	objs, err := manifests.BuildScoped(overlay, manifests.Scope{Namespaces: []string{s.Namespace}})
	if err != nil {
		return f, err
	}
	uninstall, err := s.installOperator(ctx, objs, overlay)
	defer func() {
		if uninstall != nil {
			uninstall()
		}
	}()
	if err != nil {
		return f, err
	}

	arms := [2]struct {
		name string
		args []string
	}{{"direct", nil}, {"operator", []string{"--mode", "operator"}}}
	var walls [2]time.Duration
	var diffs []string
	for r := 0; r < o.B7Rounds; r++ {
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		var reports [2]junit.Testsuites
		for _, arm := range order {
			if err := settle(ctx, o.Settle); err != nil {
				return f, err
			}
			name := arms[arm].name
			if arm == 1 {
				if err := stillInstalled(ctx, s.Cluster.Client, objs); err != nil {
					return f, err
				}
			}
			s.Log.Info("B7 run", "mode", name, "tests", len(ids), "round", r+1)
			tl, err := StartTimeline(ctx, s.Cluster.Client, s.Namespace, k8s.LabelCase)
			if err != nil {
				return f, err
			}
			run, err := s.cliRun(ctx, &sample, fmt.Sprintf("b7-%s-%d", name, r+1), o.B6P, arms[arm].args...)
			tl.Stop()
			if err != nil {
				return f, fmt.Errorf("k8s-testrun run %s: %w", strings.Join(arms[arm].args, " "), err)
			}
			verdicts, err := sampleVerdicts(run.suites, ids)
			if err != nil {
				return f, fmt.Errorf("%s mode, round %d: %w", name, r+1, err)
			}
			reports[arm] = run.suites
			walls[arm] += run.wall
			f.Notes = append(f.Notes,
				fmt.Sprintf("round %d %-8s %6.1fs  exit %d, %d test pods, %s; %s", r+1, name, run.wall.Seconds(), run.exitCode, run.pods, verdictCounts(verdicts), run.phases),
				fmt.Sprintf("  %s", Summarise(tl.Pods(), o.B6P)))
		}
		d := compareModes(ids, reports[0], reports[1])
		if len(d) > 0 {
			f.Pass = false
			diffs = append(diffs, fmt.Sprintf("round %d: %d tests differ", r+1, len(d)))
			diffs = append(diffs, limitLines(d, 20)...)
		}
	}
	f.Notes = append(f.Notes, fmt.Sprintf("verdicts, operator mode against direct mode, test by test: %d rounds with differences", countRounds(diffs)))
	f.Notes = append(f.Notes, diffs...)
	ratio := walls[1].Seconds() / walls[0].Seconds()
	if ratio > B7Target {
		f.Pass = false
	}
	f.Value = fmt.Sprintf("%.2f", ratio)
	f.Notes = append(f.Notes, fmt.Sprintf("B7 operator %.1fs / direct %.1fs (N=%d, P=%d, %d rounds) ratio %.2f",
		walls[1].Seconds(), walls[0].Seconds(), len(ids), o.B6P, o.B7Rounds, ratio))
	return f, nil
}

// autoOverlay picks the operator's overlay as the e2e tests do: the one
// K8S_TESTRUN_OPERATOR_OVERLAY names, else "local" on the local cluster of
// hack/cluster, else "default".
func autoOverlay(getenv func(string) string) string {
	if o := getenv("K8S_TESTRUN_OPERATOR_OVERLAY"); o != "" {
		return o
	}
	if getenv("K8S_TESTRUN_CLUSTER_DIR") != "" {
		return manifests.Local
	}
	return manifests.Default
}

// sampleVerdicts finds each test of the sample in a report.
func sampleVerdicts(ts junit.Testsuites, ids []string) (map[string]junit.Testcase, error) {
	out, missing := findTests(ts, ids)
	if len(missing) > 0 {
		return nil, fmt.Errorf("%d of the %d tests are not in the report, e.g. %s: the measurement is void", len(missing), len(ids), missing[0])
	}
	return out, nil
}

// compareModes lists the tests whose verdict differs between the two
// modes' reports, or which one of them lacks.
func compareModes(ids []string, direct, operator junit.Testsuites) []string {
	var out []string
	for _, id := range ids {
		d, dok := junit.Find(direct, id)
		o, ook := junit.Find(operator, id)
		switch {
		case !dok || !ook:
			out = append(out, fmt.Sprintf("  %s: in direct mode's report %t, in operator mode's %t", id, dok, ook))
		case d.Status() != o.Status():
			out = append(out, fmt.Sprintf("  %s: direct %s%s, operator %s%s", id, d.Status(), detail(d), o.Status(), detail(o)))
		}
	}
	return out
}

func countRounds(diffs []string) int {
	n := 0
	for _, d := range diffs {
		if strings.HasPrefix(d, "round ") {
			n++
		}
	}
	return n
}

// installOperator installs the operator, watching the session's namespace,
// with `k8s-testrun install --repository`, which pushes the operator's image,
// and waits for it to be available; objs are the manifests install applies
// for that namespace. The returned func, non-nil once the install started,
// deletes every one of them.
func (s *Session) installOperator(ctx context.Context, objs []*unstructured.Unstructured, overlay string) (func(), error) {
	if err := notInstalled(ctx, s.Cluster.Client, objs); err != nil {
		return nil, err
	}
	uninstall := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := s.deleteObjects(cctx, objs); err != nil {
			s.Log.Warn("uninstalling the operator", "error", err)
			return
		}
		s.Log.Info("uninstalled the operator")
	}
	args := []string{"install", "--kubeconfig", s.Kubeconfig, "--overlay", overlay, "--repository", s.Registry + "/ktr-bench/operator", "--watch-namespace", s.Namespace}
	s.Log.Info("installing the operator", "overlay", overlay)
	start := time.Now()
	out, err := exec.CommandContext(ctx, s.Binary, args...).CombinedOutput()
	if err != nil {
		return uninstall, fmt.Errorf("k8s-testrun %s: %w:\n%s", strings.Join(args, " "), err, lastLines(string(out), 20))
	}
	s.Log.Info("operator available", "took", time.Since(start).Round(time.Millisecond))
	return uninstall, nil
}

// notInstalled makes sure no operator runs already where B7 would install
// its own: B7 deletes what it installed, and would take another's away
// (the operator's e2e tests install in the same namespace).
func notInstalled(ctx context.Context, client kubernetes.Interface, objs []*unstructured.Unstructured) error {
	dep, found, err := operatorDeployment(ctx, client, objs)
	switch {
	case err != nil:
		return err
	case found:
		return fmt.Errorf("the operator is already installed (deployment %s), perhaps by an e2e test: B7 installs and deletes its own; wait until it is gone", dep)
	}
	return nil
}

// stillInstalled makes sure, before a run in operator mode, that nothing
// else uninstalled the operator B7 installed.
func stillInstalled(ctx context.Context, client kubernetes.Interface, objs []*unstructured.Unstructured) error {
	dep, found, err := operatorDeployment(ctx, client, objs)
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("the operator B7 installed is gone (deployment %s): something else uninstalled it meanwhile, perhaps an operator e2e test: run B7 again when none runs", dep)
	}
	return nil
}

// operatorDeployment says whether the manifests' Deployment is in the
// cluster, and names it.
func operatorDeployment(ctx context.Context, client kubernetes.Interface, objs []*unstructured.Unstructured) (string, bool, error) {
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		name := o.GetNamespace() + "/" + o.GetName()
		_, err := client.AppsV1().Deployments(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		switch {
		case err == nil:
			return name, true, nil
		case apierrors.IsNotFound(err):
			return name, false, nil
		default:
			return name, false, fmt.Errorf("looking for the operator's deployment %s: %w", name, err)
		}
	}
	return "", false, errors.New("the operator's manifests hold no Deployment")
}

// deleteObjects deletes objs, last first (the Deployment before its RBAC,
// the CRDs and the namespace last), none waiting for the others.
func (s *Session) deleteObjects(ctx context.Context, objs []*unstructured.Unstructured) error {
	dyn, err := dynamic.NewForConfig(s.Cluster.Config)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(s.Cluster.Client.Discovery()))
	background := metav1.DeletePropagationBackground
	var errs []error
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("finding the resource of %s: %w", gvk, err))
			continue
		}
		err = dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &background})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s: %w", o.GetKind(), o.GetName(), err))
		}
	}
	return errors.Join(errs...)
}
