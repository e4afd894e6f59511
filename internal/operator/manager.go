package operator

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/drive"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// The operator's permissions; `make generate` turns them into
// manifests/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=k8s-testrun.io,resources=testruns,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=k8s-testrun.io,resources=testruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=k8s-testrun.io,resources=testruns/finalizers,verbs=update
// +kubebuilder:rbac:groups=k8s-testrun.io,resources=testcases,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=k8s-testrun.io,resources=testcases/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=k8s-testrun.io,resources=testcases/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
//
// Nodes are cluster-scoped, so their list and watch (to end the pods of a
// lost node) are granted apart, by manifests/rbac/nodes_role.yaml.
//
// The metrics' authentication and authorization, delegated to the API
// server, take two cluster-scoped rights, bound by manifests/rbac/metrics_auth:
// tokenreviews create and subjectaccessreviews create.

// EnvWatchNamespace names the operator's namespaces, comma-separated, when
// no --watch-namespace is given; empty means all namespaces. The manifests
// set it to the operator's own namespace.
const EnvWatchNamespace = "WATCH_NAMESPACE"

// Defaults for Options.
const (
	DefaultMetricsAddr    = ":8443"
	DefaultProbeAddr      = ":8081"
	DefaultWorkers        = 4
	LeaderElectionID      = "k8s-testrun-operator"
	controllerName        = "k8s-testrun-operator"
	defaultRunWorkers     = 2
	leaderElectionDefault = "k8s-testrun-system"
)

// Options configure the operator.
type Options struct {
	// Namespaces confines the operator, its cache and so the permissions
	// it needs, to these namespaces; none means all.
	Namespaces []string
	// MetricsAddr and ProbeAddr are where the metrics and the health
	// probes are served; "0" turns either off.
	MetricsAddr string
	ProbeAddr   string
	// InsecureMetrics serves the metrics over plain HTTP to anyone who can
	// reach them; by default they are served over HTTPS to callers the API
	// server authenticates and allows "get" on the /metrics path.
	InsecureMetrics bool
	// LeaderElection lets only one replica act at a time, in
	// LeaderElectionNamespace.
	LeaderElection          bool
	LeaderElectionNamespace string
	// Workers is how many TestCases are reconciled at once.
	Workers int
	Logger  logr.Logger
}

// Scheme knows the built-in kinds and the operator's own.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("building scheme: %w", err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("building scheme: %w", err)
	}
	return s, nil
}

// Run starts the manager and blocks until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = DefaultMetricsAddr
	}
	if o.ProbeAddr == "" {
		o.ProbeAddr = DefaultProbeAddr
	}
	if o.LeaderElectionNamespace == "" {
		o.LeaderElectionNamespace = leaderElectionDefault
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        o.Logger,
		Cache:                         cacheOptions(o.Namespaces),
		Metrics:                       MetricsOptions(o.MetricsAddr, !o.InsecureMetrics),
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating clientset: %w", err)
	}
	native, err := k8s.SupportsNativeSidecars(ctx, clientset)
	if err != nil {
		return err
	}
	nodes := watchNodes(ctx, clientset, o.Logger)
	if nodes != nil {
		defer nodes.Shutdown()
	}
	if err := Setup(mgr, clientset, native, o.Workers, nodes); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("adding ready check: %w", err)
	}
	o.Logger.Info("starting operator", "namespaces", watched(o.Namespaces), "native_sidecars", native, "leader_election", o.LeaderElection)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}

// cacheOptions caches only the pods k8s-testrun made, not every pod of the
// cluster, in the namespaces watched, and keeps no object's managedFields:
// nothing reads them, and at 10,000 TestCases, each written several times,
// they were a large part of the cache.
func cacheOptions(namespaces []string) cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: labels.SelectorFromSet(labels.Set{k8s.LabelManagedBy: k8s.ManagedBy})},
		},
		DefaultNamespaces: namespaceCache(namespaces),
		DefaultTransform:  cache.TransformStripManagedFields(),
	}
}

// MetricsOptions serves the metrics at addr; secure, over HTTPS (a
// self-signed certificate) to callers that a TokenReview authenticates and a
// SubjectAccessReview allows "get" on /metrics, as the API server's own
// /metrics is guarded.
func MetricsOptions(addr string, secure bool) metricsserver.Options {
	o := metricsserver.Options{BindAddress: addr}
	if secure {
		o.SecureServing = true
		o.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return o
}

// namespaceCache confines the manager's cache to namespaces, so that it
// lists and watches there only; nil (every namespace) when there are none.
func namespaceCache(namespaces []string) map[string]cache.Config {
	if len(namespaces) == 0 {
		return nil
	}
	m := make(map[string]cache.Config, len(namespaces))
	for _, ns := range namespaces {
		m[ns] = cache.Config{}
	}
	return m
}

func watched(namespaces []string) string {
	if len(namespaces) == 0 {
		return "all"
	}
	return strings.Join(namespaces, ",")
}

// Setup registers both reconcilers with mgr; nodes, when not nil, lets
// them end the pods of lost nodes.
func Setup(mgr manager.Manager, clientset kubernetes.Interface, native bool, workers int, nodes *k8s.NodeWatcher) error {
	if workers < 1 {
		workers = DefaultWorkers
	}
	recorder := mgr.GetEventRecorder(controllerName)
	wake := newNodeWaker(nodes, mgr.GetClient())
	memory := &podMemory{}
	runs := &TestRunReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, NativeSidecar: native, Nodes: nodes, memory: memory,
		Logs: func(ctx context.Context, namespace, pod, container string) ([]byte, error) {
			return k8s.LogsWithin(ctx, clientset, namespace, pod, container, 16<<20)
		},
		Collect: func(ctx context.Context, pod *corev1.Pod, number int, opts k8s.ObserveOptions) (attempt.Attempt, []byte) {
			return attempt.Collect(ctx, clientset, pod, number, opts)
		},
	}
	// One read pool for both reconcilers; a read's end wakes the object
	// that asked for it.
	x := drive.New(1, readWorkers)
	runsRead, casesRead := make(chan event.GenericEvent, wakeBuffer), make(chan event.GenericEvent, wakeBuffer)
	runs.reads.setup(x, func(k types.NamespacedName) {
		runsRead <- event.GenericEvent{Object: &v1alpha1.TestRun{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}}
	})
	err := ctrl.NewControllerManagedBy(mgr).
		Named("testrun").
		For(&v1alpha1.TestRun{}).
		Owns(&v1alpha1.TestCase{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(runOfPod)).
		WatchesRawSource(source.Channel(wake.runs, handler.EnqueueRequestsFromMapFunc(runOfPod))).
		WatchesRawSource(source.Channel(runsRead, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: defaultRunWorkers}).
		Complete(runs)
	if err != nil {
		return fmt.Errorf("setting up the testrun controller: %w", err)
	}
	cases := &TestCaseReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, NativeSidecar: native, Nodes: nodes, memory: memory,
		Collect: func(ctx context.Context, pod *corev1.Pod, number int, opts k8s.ObserveOptions) (attempt.Attempt, []byte) {
			return attempt.Collect(ctx, clientset, pod, number, opts)
		},
	}
	cases.reads.setup(x, func(k types.NamespacedName) {
		casesRead <- event.GenericEvent{Object: &v1alpha1.TestCase{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}}
	})
	err = ctrl.NewControllerManagedBy(mgr).
		Named("testcase").
		For(&v1alpha1.TestCase{}).
		Owns(&corev1.Pod{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(casesOfUnitPod)).
		WatchesRawSource(source.Channel(wake.cases, handler.EnqueueRequestsFromMapFunc(casesOfPod))).
		WatchesRawSource(source.Channel(casesRead, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(cases)
	if err != nil {
		return fmt.Errorf("setting up the testcase controller: %w", err)
	}
	if nodes == nil {
		return nil
	}
	if err := mgr.Add(wake); err != nil {
		return fmt.Errorf("adding the node waker: %w", err)
	}
	return nil
}

// runOfPod maps a pod of a run (a test pod, controlled by a TestCase, or
// the discovery pod, controlled by the TestRun) to its TestRun.
func runOfPod(_ context.Context, obj client.Object) []reconcile.Request {
	ref := metav1.GetControllerOf(obj)
	run := obj.GetLabels()[k8s.LabelRun]
	if ref == nil || run == "" || ref.APIVersion != v1alpha1.GroupVersion.String() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: run}}}
}
