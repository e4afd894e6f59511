package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// operatorFlags are the operator role's flags:
//
//	operator [flags]
type operatorFlags struct {
	kubeconfig      string
	watchNS         namespaceList
	allNS           bool
	metrics         string
	insecureMetrics bool
	probes          string
	leader          bool
	leaderNS        string
	workers         int
	verbose         bool
	qps             float64
	burst           int
}

// bindOperatorFlags defines the operator's flags on fs. Their names are
// those Go's flag package read before, single dash or double (see
// doubleDash), so that a Deployment written by any version still starts.
func bindOperatorFlags(fs *pflag.FlagSet, o *operatorFlags) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config, then the pod's service account)")
	fs.Var(&o.watchNS, "watch-namespace", "reconcile the TestRuns of this namespace; repeat it or separate by commas for several (default $WATCH_NAMESPACE, then all namespaces)")
	fs.BoolVar(&o.allNS, "all-namespaces", false, "reconcile the TestRuns of every namespace")
	fs.StringVar(&o.metrics, "metrics-bind-address", operator.DefaultMetricsAddr, `address of the Prometheus metrics endpoint; "0" turns it off`)
	fs.BoolVar(&o.insecureMetrics, "metrics-insecure", false, "serve the metrics over plain HTTP to anyone who reaches them (default: HTTPS, to callers the API server authenticates and allows get on /metrics)")
	fs.StringVar(&o.probes, "health-probe-bind-address", operator.DefaultProbeAddr, `address of /healthz and /readyz; "0" turns them off`)
	fs.BoolVar(&o.leader, "leader-elect", false, "take a lease so that only one replica acts at a time")
	fs.StringVar(&o.leaderNS, "leader-election-namespace", "", "namespace of the lease (default $POD_NAMESPACE)")
	fs.IntVar(&o.workers, "workers", operator.DefaultWorkers, "TestCases reconciled at once")
	fs.BoolVar(&o.verbose, "v", false, "log every step")
	fs.Float64Var(&o.qps, "kube-api-qps", config.DefaultKubeAPIQPS, "queries per second the operator sends the API server at most (client-side rate limit)")
	fs.IntVar(&o.burst, "kube-api-burst", config.DefaultKubeAPIBurst, "queries the operator may send the API server at once, above --kube-api-qps")
}

// runOperator runs the operator, in the cluster or against a kubeconfig.
func runOperator(ctx context.Context, o operatorFlags, env Env) error {
	defer LimitMemoryTo(env.Getenv, OperatorMemoryLimit, OperatorGCPercent)()
	if o.kubeconfig == "" {
		o.kubeconfig = env.Getenv("KUBECONFIG")
	}
	if o.leaderNS == "" {
		o.leaderNS = env.Getenv("POD_NAMESPACE")
	}
	if o.allNS && len(o.watchNS) > 0 {
		return errors.New("--all-namespaces and --watch-namespace exclude each other")
	}
	if len(o.watchNS) == 0 && !o.allNS {
		if err := o.watchNS.Set(env.Getenv(operator.EnvWatchNamespace)); err != nil {
			return fmt.Errorf("$%s: %w", operator.EnvWatchNamespace, err)
		}
	}
	if o.qps <= 0 {
		return &config.Error{Input: "--kube-api-qps", Value: fmt.Sprint(o.qps), Fix: fmt.Sprintf("must be above 0, e.g. %d", config.DefaultKubeAPIQPS)}
	}
	if o.burst < 1 {
		return &config.Error{Input: "--kube-api-burst", Value: fmt.Sprint(o.burst), Fix: fmt.Sprintf("must be 1 or more, e.g. %d", config.DefaultKubeAPIBurst)}
	}
	cluster, err := k8s.Connect(k8s.ClientOptions{Kubeconfig: o.kubeconfig, QPS: float32(o.qps), Burst: o.burst})
	if err != nil {
		return err
	}
	log := logr.FromSlogHandler(logger(env.Stderr, o.verbose).Handler())
	// controller-runtime's packages and client-go's leader election log
	// through global loggers.
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	return operator.Run(ctx, cluster.Config, operator.Options{
		Namespaces:              o.watchNS,
		MetricsAddr:             o.metrics,
		InsecureMetrics:         o.insecureMetrics,
		ProbeAddr:               o.probes,
		LeaderElection:          o.leader,
		LeaderElectionNamespace: o.leaderNS,
		Workers:                 o.workers,
		Logger:                  log,
	})
}

// namespaceList is a flag of namespaces, repeated or comma-separated.
type namespaceList []string

func (l *namespaceList) String() string { return strings.Join(*l, ",") }

func (l *namespaceList) Type() string { return "namespaces" }

func (l *namespaceList) Set(v string) error {
	for _, ns := range strings.Split(v, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("namespace %q: %s", ns, strings.Join(errs, "; "))
		}
		if !slices.Contains(*l, ns) {
			*l = append(*l, ns)
		}
	}
	return nil
}

// operatorRunTTL keeps a run that `run --mode operator` started visible in
// the cluster for a while after it finished.
const operatorRunTTL = time.Hour

// operatorPickup is how long a new TestRun may go without a status before
// the user hears that no operator seems to be running.
const operatorPickup = 30 * time.Second

// executeOperator is execute in operator mode: the image is built as in
// direct mode, then a TestRun does the rest in the cluster; this process
// follows its status and writes the same report from what the run kept.
func (p *pipeline) executeOperator(ctx context.Context) (*report.Report, error) {
	start := time.Now()
	c, err := p.operatorClient()
	if err != nil {
		return nil, err
	}
	p.runID = runName(p.cfg.ProjectDir, p.runID)
	run, err := p.testRun("preflight.invalid/image")
	if err != nil {
		return nil, err
	}
	if err := c.Create(ctx, run, client.DryRunAll); err != nil {
		return nil, explainTestRun(err, p.cluster.Namespace)
	}
	apiSrc, err := p.apiCoverageSource()
	if err != nil {
		return nil, err
	}

	p.phase(phaseBuild)
	bases, err := p.buildBases(ctx)
	if err != nil {
		return nil, err
	}
	if run, err = p.testRun(p.image.Image); err != nil {
		return nil, err
	}
	if err := p.operatorSpec(ctx, run); err != nil {
		return nil, err
	}
	if len(bases) > 1 {
		for _, b := range bases {
			run.Spec.Bases = append(run.Spec.Bases, v1alpha1.MatrixBase{Name: b.ref, Image: b.image.Image})
		}
	}
	qcm, err := p.putQuarantine(ctx, c, run)
	if err != nil {
		return nil, err
	}
	handed := p.handCollections(ctx, c, run, bases)
	err = p.createTestRun(ctx, c, run)
	p.ownQuarantine(ctx, c, qcm, run, err == nil)
	handed.own(ctx, p, c, run, err == nil)
	if err != nil {
		return nil, err
	}
	p.log.Info("created TestRun", "name", run.Name, "namespace", run.Namespace)
	p.phase(phaseDiscover)
	final, runErr := p.follow(ctx, c, run)
	if runErr == nil {
		handed.keep(ctx, p, c, run, bases)
	}
	p.finishOperator(ctx, c, run, final)
	if runErr != nil {
		return nil, runErr
	}
	if final.Status.Phase == v1alpha1.RunError {
		return nil, fmt.Errorf("run %s: %s", run.Name, final.Status.Message)
	}
	rep, err := operator.LoadReport(ctx, c, final)
	if err != nil {
		return nil, err
	}
	rep.ImageDigest = p.image.Digest.String()
	for i := range rep.Bases {
		rep.Bases[i].Digest = bases[i].image.Digest.String()
	}
	rep.Started, rep.Wall = start, time.Since(start)
	// The audit log is read here, where direct mode reads it; the pods'
	// names and UIDs come from the TestCases.
	apiErr := p.measureAPICoverage(ctx, apiSrc, rep)
	if err := p.writeReport(rep); err != nil {
		return rep, err
	}
	if err := p.operatorExtras(ctx, c, run, final, rep); err != nil {
		return rep, err
	}
	return rep, apiErr
}

// operatorClient is a client of the cluster that knows the TestRun API
// and can watch.
func (p *pipeline) operatorClient() (client.WithWatch, error) {
	scheme, err := operator.Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(p.cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return c, nil
}

// operatorCreateTimeout bounds the create of a TestRun, which a cancelled
// run does not cut short.
const operatorCreateTimeout = 30 * time.Second

// createTestRun creates run such that no exit leaves it behind: the create
// runs to its answer even when ctx ends meanwhile (an interrupted request
// may have created the run all the same), and a run made after ctx ended,
// or whose create failed without a definite answer, is deleted by its name,
// which this process chose and no other run has.
func (p *pipeline) createTestRun(ctx context.Context, c client.Client, run *v1alpha1.TestRun) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), operatorCreateTimeout)
	defer cancel()
	err := c.Create(cctx, run)
	if err == nil && ctx.Err() == nil {
		return nil
	}
	if err != nil && refused(err) {
		return explainTestRun(err, p.cluster.Namespace)
	}
	p.finishOperator(ctx, c, run, nil)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return explainTestRun(err, p.cluster.Namespace)
}

// refused says the API server answered a create with a definite no, so
// nothing was created: any 4xx answer but a timeout. A lost connection, a
// deadline or a 5xx may hide a create that happened.
func refused(err error) bool {
	if meta.IsNoMatchError(err) {
		return true
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	code := status.Status().Code
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout
}

func (p *pipeline) testRun(image string) (*v1alpha1.TestRun, error) {
	var tmpl *runtime.RawExtension
	if p.template != nil {
		raw, err := json.Marshal(p.template)
		if err != nil {
			return nil, fmt.Errorf("encoding the pod template: %w", err)
		}
		tmpl = &runtime.RawExtension{Raw: raw}
	}
	run := &v1alpha1.TestRun{
		ObjectMeta: metav1.ObjectMeta{
			Name:      p.runID,
			Namespace: p.cluster.Namespace,
			Labels:    map[string]string{k8s.LabelManagedBy: k8s.ManagedBy},
		},
		Spec: v1alpha1.TestRunSpec{
			Image:                   image,
			Selection:               p.cfg.Selection,
			Parallelism:             int32(p.cfg.Parallelism),
			Timeout:                 &metav1.Duration{Duration: p.cfg.Timeout},
			PendingTimeout:          &metav1.Duration{Duration: p.cfg.PendingTimeout},
			Retries:                 int32(p.cfg.Retries),
			InfraRetries:            ptr.To(int32(p.cfg.InfraRetries)),
			Sidecar:                 p.cfg.Sidecar,
			ResultLimit:             int32(p.cfg.ResultLimit),
			PodTemplate:             tmpl,
			TTLSecondsAfterFinished: ptr.To(int32(operatorRunTTL / time.Second)),
			Faketime:                p.cfg.Faketime,
			MaxFailures:             int32(p.cfg.MaxFailures),
			FlakyRetries:            ptr.To(int32(p.cfg.FlakyRetries)),
			PodPer:                  p.cfg.PodPer,
			Shards:                  int32(p.cfg.Shards),
			DurationsConfigMap:      durationsName(p.cfg.ProjectDir),
			APICoverage:             p.cfg.APICoverage,
			Coverage:                p.cfg.Coverage,
		},
	}
	if len(p.cfg.Lanes) > 0 {
		run.Spec.Lanes = make(map[string]v1alpha1.LaneMarkers, len(p.cfg.LaneMarkers))
		for lane, markers := range p.cfg.LaneMarkers {
			run.Spec.Lanes[lane] = markers
		}
	}
	if p.cfg.SlowTimeout > 0 {
		run.Spec.SlowTimeout = &metav1.Duration{Duration: p.cfg.SlowTimeout}
	}
	if p.cfg.NodeLostAfter > 0 {
		run.Spec.NodeLostAfter = &metav1.Duration{Duration: p.cfg.NodeLostAfter}
	}
	if r := p.cfg.Rerun; r != nil {
		// Validate refused a report without node ids in operator mode;
		// the operator discovers, so each test keeps its lane.
		for _, t := range r.Failed {
			run.Spec.RerunTests = append(run.Spec.RerunTests, t.TestID)
		}
	}
	return run, nil
}

// runName names a TestRun after the project and the run id; it names the
// run's pods and labels too, so it stays a short DNS label.
func runName(projectDir, runID string) string {
	return projectName(projectDir) + "-" + runID
}

// durationsName names the ConfigMap that keeps a project's test durations
// from one operator run to the next, in the run's namespace.
func durationsName(projectDir string) string {
	return "k8s-testrun-durations-" + projectName(projectDir)
}

// projectName is the base name of the project's directory as a DNS label
// of at most 30 characters.
func projectName(projectDir string) string {
	abs, err := filepath.Abs(projectDir)
	if err != nil {
		abs = projectDir
	}
	var b strings.Builder
	for _, r := range strings.ToLower(filepath.Base(abs)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	base := strings.Trim(b.String(), "-")
	if len(base) > 30 {
		base = strings.Trim(base[:30], "-")
	}
	if base == "" {
		base = "run"
	}
	return base
}

func explainTestRun(err error, namespace string) error {
	switch {
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err) && strings.Contains(err.Error(), "the server could not find the requested resource"):
		return fmt.Errorf("creating a TestRun: the cluster does not know TestRuns: %w (install the operator: k8s-testrun install --image IMAGE)", err)
	case apierrors.IsForbidden(err):
		return &k8s.APIError{Op: "creating a TestRun", Err: err,
			Hint: fmt.Sprintf("grant testruns.k8s-testrun.io create, get, watch, delete and testcases get, list, watch, and configmaps get, list in namespace %q, e.g. through the k8s-testrun-edit ClusterRole", namespace)}
	}
	return k8s.Explain("creating a TestRun", namespace, err)
}

// followOutage is how long follow keeps trying to open its watches again
// before it gives up on the API server.
const followOutage = 2 * time.Minute

// follow watches the run until it finishes, reporting each attempt as its
// TestCase records it. A closed watch is opened again; a watch that cannot
// be opened is tried again with exponential backoff, for up to
// followOutage since the last event.
func (p *pipeline) follow(ctx context.Context, c client.WithWatch, run *v1alpha1.TestRun) (*v1alpha1.TestRun, error) {
	f := &follower{p: p, reported: map[string]int{}, cur: run, pickup: time.Now().Add(operatorPickup)}
	b := watchBackoff()
	lastEvent, seen := time.Now(), 0
	for {
		done, err := f.watch(ctx, c)
		if done {
			return f.cur, nil
		}
		var broken *brokenWatch
		if err != nil && !errors.As(err, &broken) {
			return f.cur, err
		}
		if f.events > seen {
			seen, lastEvent, b = f.events, time.Now(), watchBackoff()
		}
		if broken != nil && time.Since(lastEvent) > followOutage {
			return f.cur, fmt.Errorf("%w (for %s; is the API server up?)", broken.err, followOutage)
		}
		d := b.Step()
		if err != nil {
			p.log.Warn("watching the run again", "testrun", run.Name, "in", d.Round(time.Millisecond), "error", err)
		}
		select {
		case <-ctx.Done():
			return f.cur, ctx.Err()
		case <-time.After(d):
		}
	}
}

// watchBackoff paces the watches follow opens again: from 200ms, doubling,
// up to 10s, with jitter.
func watchBackoff() wait.Backoff {
	return wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: math.MaxInt32, Cap: 10 * time.Second}
}

// brokenWatch is a watch that could not be opened: follow tries again.
type brokenWatch struct{ err error }

func (e *brokenWatch) Error() string { return e.err.Error() }

type follower struct {
	p        *pipeline
	cur      *v1alpha1.TestRun
	reported map[string]int
	running  bool
	pickup   time.Time
	// events counts the events of every watch so far.
	events int
}

func (f *follower) watch(ctx context.Context, c client.WithWatch) (bool, error) {
	ns, name := f.cur.Namespace, f.cur.Name
	runs, err := c.Watch(ctx, &v1alpha1.TestRunList{}, client.InNamespace(ns), client.MatchingFields{"metadata.name": name})
	if err != nil {
		return false, &brokenWatch{fmt.Errorf("watching TestRun %s: %w", name, err)}
	}
	defer runs.Stop()
	cases, err := c.Watch(ctx, &v1alpha1.TestCaseList{}, client.InNamespace(ns), client.MatchingLabels{k8s.LabelRun: name})
	if err != nil {
		return false, &brokenWatch{fmt.Errorf("watching the TestCases of %s: %w", name, err)}
	}
	defer cases.Stop()
	tick := time.NewTicker(followTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
			// A watch may miss an event: the run is asked for once a
			// tick, so a missed end cannot keep this process waiting.
			r := &v1alpha1.TestRun{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r); err == nil && f.observe(r) {
				return true, nil
			}
			if !f.pickup.IsZero() && time.Now().After(f.pickup) && f.cur.Status.Phase == "" {
				f.p.log.Warn(fmt.Sprintf("the TestRun has no status yet: is the operator running, and watching namespace %s? (k8s-testrun install --image IMAGE --watch-namespace %s)", ns, ns), "testrun", name)
				f.pickup = time.Time{}
			}
		case ev, ok := <-runs.ResultChan():
			if !ok || ev.Type == watch.Error {
				return false, nil
			}
			f.events++
			if ev.Type == watch.Deleted {
				return false, fmt.Errorf("TestRun %s/%s was deleted before it finished", ns, name)
			}
			if r, ok := ev.Object.(*v1alpha1.TestRun); ok && f.observe(r) {
				return true, nil
			}
		case ev, ok := <-cases.ResultChan():
			if !ok || ev.Type == watch.Error {
				return false, nil
			}
			f.events++
			if tc, ok := ev.Object.(*v1alpha1.TestCase); ok && ev.Type != watch.Deleted {
				f.report(tc)
			}
		}
	}
}

// followTick paces follow's own looks at the run, beside its watches.
var followTick = 5 * time.Second

// observe takes r as the run's latest state and reports whether it
// finished.
func (f *follower) observe(r *v1alpha1.TestRun) bool {
	f.cur = r
	if !f.running && r.Status.Phase == v1alpha1.RunRunning {
		f.running = true
		f.p.phase(phaseRun)
		if f.p.onStart != nil {
			// The tests the operator runs: its total less those it runs in
			// no pod.
			f.p.onStart(int(r.Status.Total-r.Status.CollectionSkipped-r.Status.NotAffected), nil)
		}
		f.p.log.Info("running tests", "run", r.Name, "tests", r.Status.Total, "parallelism", r.Spec.Parallelism, "namespace", r.Namespace)
	}
	return r.Status.Phase.Finished()
}

// report hands the attempts tc recorded since the last look to onAttempt.
// In a runtime matrix the live lines name the base as direct mode's do:
// by its Python once the run's status has the version, else by its image.
func (f *follower) report(tc *v1alpha1.TestCase) {
	if f.cur != nil {
		f.p.baseLabels = (&report.Report{Bases: operator.ReportBases(f.cur)}).BaseLabels()
	}
	for _, a := range tc.Status.History {
		if int(a.Number) <= f.reported[tc.Name] {
			continue
		}
		f.reported[tc.Name] = int(a.Number)
		if f.p.onAttempt != nil {
			f.p.onAttempt(operator.CaseOf(tc), operator.AttemptOf(a))
		}
	}
}

// finishOperator tidies up after a run: one that did not finish (this
// process was cancelled, the watch failed) is deleted with its TestCases
// and pods; a finished one stays for its TTL, and its last pods, which the
// operator deletes once their attempts are recorded, are waited for.
func (p *pipeline) finishOperator(ctx context.Context, c client.Client, run, final *v1alpha1.TestRun) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if final == nil || !final.Status.Phase.Finished() {
		err := c.Delete(cctx, run, client.PropagationPolicy(metav1.DeletePropagationForeground))
		if err != nil && !apierrors.IsNotFound(err) {
			p.log.Error("deleting the TestRun", "testrun", run.Name, "error", err)
			return
		}
		p.log.Info("deleted the unfinished TestRun", "testrun", run.Name)
	}
	if err := k8s.WaitGone(cctx, p.cluster.Client, run.Namespace, k8s.RunSelector(run.Name)); err != nil {
		p.log.Warn("pods of the run remain; the operator deletes them", "testrun", run.Name, "error", err)
	}
}
