package operator

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// DiscoveryLogKey is the binaryData key of a collection ConfigMap
// (spec.collectionConfigMap): a discovery pod's log, gzipped.
const DiscoveryLogKey = "discovery.log.gz"

// DiscoveryLogName names the collection ConfigMap of a base of run; ""
// when the run names none.
func DiscoveryLogName(run *v1alpha1.TestRun, base int) string {
	if run.Spec.CollectionConfigMap == "" {
		return ""
	}
	return run.Spec.CollectionConfigMap + baseSuffix(base)
}

// DiscoveryLogConfigMap is a collection ConfigMap holding log; a
// *TooLargeError when the gzipped log does not fit in a ConfigMap.
func DiscoveryLogConfigMap(namespace, name string, log []byte) (*corev1.ConfigMap, error) {
	gz, err := gzipBytes(log)
	if err != nil {
		return nil, err
	}
	if len(gz) > maxStored {
		return nil, &TooLargeError{What: "the discovery log", Size: len(gz)}
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{k8s.LabelManagedBy: k8s.ManagedBy}},
		BinaryData: map[string][]byte{DiscoveryLogKey: gz},
	}, nil
}

// DiscoveryLogOf is the discovery log a collection ConfigMap holds,
// inflated to at most k8s.MaxOneOffLog bytes, as a discovery pod's log is
// read; false when it holds none.
func DiscoveryLogOf(cm *corev1.ConfigMap) ([]byte, bool, error) {
	gz, ok := cm.BinaryData[DiscoveryLogKey]
	if !ok {
		return nil, false, nil
	}
	log, err := gunzipBytes(gz, k8s.MaxOneOffLog)
	return log, true, err
}

// handedCollection is the collection of base that the run's collection
// ConfigMap carries, parsed as a discovery pod's log is; false when the
// run names none, it holds none, or what it holds does not parse (an
// event says so), and then the discovery pod runs.
func (r *TestRunReconciler) handedCollection(ctx context.Context, run *v1alpha1.TestRun, base int) (discover.Collection, bool) {
	name := DiscoveryLogName(run, base)
	if name == "" {
		return discover.Collection{}, false
	}
	cm := &corev1.ConfigMap{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: name}, cm); err != nil {
		if !kerrors.IsNotFound(err) {
			logf.FromContext(ctx).Error(err, "reading the collection configmap; discovering", "configmap", name)
		}
		return discover.Collection{}, false
	}
	log, ok, err := DiscoveryLogOf(cm)
	if !ok {
		return discover.Collection{}, false
	}
	var found discover.Collection
	if err == nil {
		// Only a collection that succeeded is kept: exit code 0.
		found, err = discover.ParseLog(log, 0)
	}
	if err != nil {
		r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, "CollectionIgnored", "Discover",
			"configmap %s: %s; discovering", name, truncate(err.Error(), 500))
		return discover.Collection{}, false
	}
	return found, true
}

// keepDiscoveryLog writes the log of a discovery that parsed into the
// run's collection ConfigMap of base, owned by the run, for the CLI to
// keep in its collection cache; one already there stays. A log too large
// for a ConfigMap, or a failed write, costs the next run a discovery pod,
// not this run.
func (r *TestRunReconciler) keepDiscoveryLog(ctx context.Context, run *v1alpha1.TestRun, base int, log []byte) {
	name := DiscoveryLogName(run, base)
	if name == "" {
		return
	}
	cm, err := DiscoveryLogConfigMap(run.Namespace, name, log)
	if err == nil {
		cm.Labels[k8s.LabelRun] = run.Name
		cm.OwnerReferences = []metav1.OwnerReference{controllerRef(run, v1alpha1.GroupVersion.WithKind("TestRun"))}
		if err = r.Client.Create(ctx, cm); kerrors.IsAlreadyExists(err) {
			err = nil
		}
	}
	if err != nil {
		logf.FromContext(ctx).Info("not keeping the discovery log for the collection cache", "configmap", name, "error", fmt.Sprint(err))
	}
}
