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
// suite, in each way of grouping tests into pods.
const B7Target = 1.1

// b7Modes are the ways of grouping tests into pods B7 times side by side.
var b7Modes = []struct {
	name string
	args []string
}{
	{"per test", nil},
	{"per file", []string{"--pod-per", "file"}},
	{"shards 4", []string{"--shards", "4"}},
}

// b7Arms are the two modes: direct, then operator.
var b7Arms = [2]struct {
	name string
	args []string
}{{"direct", nil}, {"operator", []string{"--mode", "operator"}}}

// b7 times, on a sample of the real suite, the CLI in direct mode (`k8s-testrun
// run`) against the same run through the operator (`k8s-testrun run --mode
// operator`), installed in the cluster from the suite's test image for the
// session, in each of b7Modes: one pod per test, one per file, 4 shards.
// Rounds alternate which mode goes first. Both reports must give every test
// the same verdict. The API server's request counts, read before and after
// each run, show where each mode's requests go.
func b7(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B7", Name: "operator overhead, real suite (operator mode / direct mode), per test, per file, 4 shards", Target: fmt.Sprintf("≤ %.2f each", B7Target), Pass: true}
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
	m := &b7Measure{s: s, o: o, objs: objs, sample: &sample, ids: ids, f: &f,
		walls: make([][2]time.Duration, len(b7Modes)), requests: make([][2]RequestCounts, len(b7Modes))}
	for r := 0; r < o.B7Rounds; r++ {
		for k := range b7Modes {
			if err := m.pair(ctx, r, k); err != nil {
				return f, err
			}
		}
	}
	m.conclude()
	return f, nil
}

// b7Measure is what B7 gathers, mode by mode.
type b7Measure struct {
	s      *Session
	o      Options
	objs   []*unstructured.Unstructured
	sample *RealSuite
	ids    []string
	f      *Figure
	// walls and requests are each mode's direct and operator totals.
	walls    [][2]time.Duration
	requests [][2]RequestCounts
	diffs    []string
}

// pair runs mode k of round r in both arms, the order alternating by round.
func (m *b7Measure) pair(ctx context.Context, r, k int) error {
	order := []int{0, 1}
	if r%2 == 1 {
		order = []int{1, 0}
	}
	mode := b7Modes[k]
	var reports [2]junit.Testsuites
	for _, arm := range order {
		if err := settle(ctx, m.o.Settle); err != nil {
			return err
		}
		name := b7Arms[arm].name
		if arm == 1 {
			if err := stillInstalled(ctx, m.s.Cluster.Client, m.objs); err != nil {
				return err
			}
		}
		m.s.Log.Info("B7 run", "mode", name, "pods", mode.name, "tests", len(m.ids), "round", r+1)
		before, err := ReadMetrics(ctx, m.s.Cluster.Client)
		if err != nil {
			return err
		}
		tl, err := StartTimeline(ctx, m.s.Cluster.Client, m.s.Namespace, k8s.LabelCase)
		if err != nil {
			return err
		}
		args := append(append([]string(nil), mode.args...), b7Arms[arm].args...)
		run, err := m.s.cliRun(ctx, m.sample, fmt.Sprintf("b7-%s-%s-%d", name, strings.ReplaceAll(mode.name, " ", "-"), r+1), m.o.B6P, args...)
		tl.Stop()
		if err != nil {
			return fmt.Errorf("k8s-testrun run %s: %w", strings.Join(args, " "), err)
		}
		after, err := ReadMetrics(ctx, m.s.Cluster.Client)
		if err != nil {
			return err
		}
		m.requests[k][arm] = addCounts(m.requests[k][arm], after.Requests.Sub(before.Requests))
		verdicts, err := sampleVerdicts(run.suites, m.ids)
		if err != nil {
			return fmt.Errorf("%s mode, %s, round %d: %w", name, mode.name, r+1, err)
		}
		reports[arm] = run.suites
		m.walls[k][arm] += run.wall
		m.f.Notes = append(m.f.Notes,
			fmt.Sprintf("round %d %-8s %-8s %6.1fs  exit %d, %d test pods, %s; %s", r+1, mode.name, name, run.wall.Seconds(), run.exitCode, run.pods, verdictCounts(verdicts), run.phases),
			fmt.Sprintf("  %s", Summarise(tl.Pods(), m.o.B6P)))
	}
	if d := compareModes(m.ids, reports[0], reports[1]); len(d) > 0 {
		m.f.Pass = false
		m.diffs = append(m.diffs, fmt.Sprintf("round %d, %s: %d tests differ", r+1, mode.name, len(d)))
		m.diffs = append(m.diffs, limitLines(d, 20)...)
	}
	return nil
}

// conclude sets the figure from each mode's ratio, and notes each mode's
// API requests per test.
func (m *b7Measure) conclude() {
	f := m.f
	f.Notes = append(f.Notes, fmt.Sprintf("verdicts, operator mode against direct mode, test by test: %d rounds with differences", countRounds(m.diffs)))
	f.Notes = append(f.Notes, m.diffs...)
	var values []string
	for k, mode := range b7Modes {
		walls := m.walls[k]
		ratio := walls[1].Seconds() / walls[0].Seconds()
		if ratio > B7Target {
			f.Pass = false
		}
		values = append(values, fmt.Sprintf("%s %.2f", mode.name, ratio))
		f.Notes = append(f.Notes, fmt.Sprintf("B7 %s operator %.1fs / direct %.1fs (N=%d, P=%d, %d rounds) ratio %.2f",
			mode.name, walls[1].Seconds(), walls[0].Seconds(), len(m.ids), m.o.B6P, m.o.B7Rounds, ratio))
		f.Notes = append(f.Notes, requestsPerTest(m.requests[k], len(m.ids)*m.o.B7Rounds)...)
	}
	f.Value = strings.Join(values, ", ")
}

// b7Requests are the requests B7 breaks down: the operator's objects, and
// the pods' (which the whole cluster's load shares).
var b7Requests = []RequestKey{
	{"POST", "testcases", ""}, {"PUT", "testcases", "status"}, {"PATCH", "testcases", "status"}, {"GET", "testcases", ""},
	{"PUT", "testruns", "status"}, {"GET", "testruns", ""}, {"LIST", "testcases", ""},
	{"POST", "configmaps", ""}, {"PUT", "configmaps", ""},
	{"POST", "pods", ""}, {"DELETE", "pods", ""}, {"PATCH", "pods", ""}, {"GET", "pods", "log"}, {"LIST", "pods", ""},
}

// requestsPerTest notes, for direct and operator mode, the requests of
// b7Requests per test run (tests: the tests times the rounds).
func requestsPerTest(req [2]RequestCounts, tests int) []string {
	out := []string{fmt.Sprintf("  API requests per test (whole cluster, %d tests), direct | operator:", tests)}
	for _, k := range b7Requests {
		d, op := req[0][k], req[1][k]
		if d == 0 && op == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("    %-24s %6.2f | %6.2f", k, d/float64(tests), op/float64(tests)))
	}
	return out
}

func addCounts(a, b RequestCounts) RequestCounts {
	if a == nil {
		a = RequestCounts{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
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
