package operator

import (
	"context"
	"fmt"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReadReport returns the merged JUnit XML a run's status points at.
func ReadReport(ctx context.Context, r client.Reader, run *v1alpha1.TestRun) ([]byte, error) {
	ref := run.Status.Report
	if ref == nil {
		return nil, fmt.Errorf("run %s has no report yet", run.Name)
	}
	cm := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: ref.ConfigMap}, cm); err != nil {
		return nil, fmt.Errorf("reading report of run %s: %w", run.Name, err)
	}
	if ref.Key == ReportKeyGzip {
		return gunzipBytes(cm.BinaryData[ref.Key], maxLog)
	}
	return []byte(cm.Data[ref.Key]), nil
}

// wait returns once every read under way has ended, and reports whether
// any result waits to be taken; for tests.
func (r *reads) wait() bool {
	r.setup(nil, nil)
	r.results.Wait()
	return r.results.Busy()
}
