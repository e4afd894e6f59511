package operator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// RoleCoverage labels the ConfigMap that keeps the coverage.py data files
// of one test pod of a run with spec.coverage, until the CLI that started
// the run combines them (coverage.go in internal/app).
const RoleCoverage = "coverage"

// AnnotationPod, on a coverage ConfigMap, names the pod whose data it
// holds: the CLI names each data file after it, as direct mode does.
const AnnotationPod = "k8s-testrun.io/pod"

// maxCoverageFiles bounds the data files kept of one pod: coverage.py
// writes one per process.
const maxCoverageFiles = 1000

// CoverageName names the ConfigMap of a pod's coverage data.
func CoverageName(pod string) string { return pod + "-coverage" }

// coverageFiles are the coverage.py data files of a decoded block, named
// as the test process named them, without the block's directory.
func coverageFiles(files []transport.File) []transport.File {
	var out []transport.File
	for _, f := range files {
		if name, ok := strings.CutPrefix(f.Name, transport.CoverageDir+"/"); ok {
			out = append(out, transport.File{Name: name, Data: f.Data})
		}
	}
	return out
}

// coverageConfigMap keeps the coverage data files of pod, each gzipped
// under its own key, owned by owner so that they go with the run. Data
// that does not fit in a ConfigMap is a TooLargeError: the run's coverage
// then lacks that pod, and says so. A name that is no valid key (a test may
// write any file there) is made one: SaveCoverage renames them anyway.
func coverageConfigMap(owner metav1.Object, gvk schema.GroupVersionKind, runName string, pod *corev1.Pod, files []transport.File) (*corev1.ConfigMap, error) {
	data := make(map[string][]byte, len(files))
	size := 0
	for i, f := range files {
		if i == maxCoverageFiles {
			return nil, &TooLargeError{What: fmt.Sprintf("the coverage data of pod %s (%d files)", pod.Name, len(files)), Size: size}
		}
		gz, err := gzipBytes(f.Data)
		if err != nil {
			return nil, err
		}
		size += len(gz) + len(f.Name)
		if size > maxStored {
			return nil, &TooLargeError{What: "the coverage data of pod " + pod.Name, Size: size}
		}
		data[fmt.Sprintf("%03d%s.gz", i, keySafe(f.Name))] = gz
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      CoverageName(pod.Name),
			Namespace: pod.Namespace,
			Labels: map[string]string{
				k8s.LabelManagedBy: k8s.ManagedBy,
				k8s.LabelRun:       runName,
				k8s.LabelRole:      RoleCoverage,
			},
			Annotations:     map[string]string{AnnotationPod: pod.Name},
			OwnerReferences: []metav1.OwnerReference{controllerRef(owner, gvk)},
		},
		BinaryData: data,
	}, nil
}

// keySafe reduces a file name to the characters a ConfigMap key takes.
func keySafe(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// keepCoverage stores a collected pod's coverage data files (cov, named
// as the test process named them), if it shipped any: only the pods of a
// run with spec.coverage run under coverage.py. A pod whose data is too
// large for a ConfigMap gets a warning event and no ConfigMap; other
// errors are returned, to be tried again.
func keepCoverage(ctx context.Context, c client.Client, r client.Reader, rec events.EventRecorder, owner client.Object, gvk schema.GroupVersionKind, runName string, pod *corev1.Pod, cov []transport.File) error {
	if len(cov) == 0 {
		return nil
	}
	cm, err := coverageConfigMap(owner, gvk, runName, pod, cov)
	var tooLarge *TooLargeError
	if errors.As(err, &tooLarge) {
		rec.Eventf(owner, pod, corev1.EventTypeWarning, "CoverageTooLarge", "Coverage", "%s; the run's coverage leaves this pod out", truncate(err.Error(), maxMessage))
		return nil
	}
	if err != nil {
		return err
	}
	return put(ctx, c, r, cm)
}

// SaveCoverage writes the coverage data files the pods of run shipped
// into dir, as direct mode's runner writes them (report.SaveCoverage),
// and returns how many pods' data it wrote. Only the ConfigMaps the run
// or its TestCases control count. A file that is no coverage data (a test
// may write anything there) is left out and passed to warn, as the runner
// does.
func SaveCoverage(ctx context.Context, r client.Reader, run *v1alpha1.TestRun, dir string, warn func(error)) (int, error) {
	cases, err := Cases(ctx, r, run)
	if err != nil {
		return 0, err
	}
	owners := map[string]bool{string(run.UID): true}
	for _, tc := range cases {
		owners[string(tc.UID)] = true
	}
	cms := &corev1.ConfigMapList{}
	if err := r.List(ctx, cms, client.InNamespace(run.Namespace), client.MatchingLabels{k8s.LabelRun: run.Name, k8s.LabelRole: RoleCoverage}); err != nil {
		return 0, fmt.Errorf("listing the coverage data of run %s: %w", run.Name, err)
	}
	n := 0
	for i := range cms.Items {
		cm := &cms.Items[i]
		ref := metav1.GetControllerOf(cm)
		pod := cm.Annotations[AnnotationPod]
		if ref == nil || !owners[string(ref.UID)] || pod == "" {
			continue
		}
		keys := make([]string, 0, len(cm.BinaryData))
		for k := range cm.BinaryData {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		files := make([]transport.File, 0, len(keys))
		for _, k := range keys {
			data, err := gunzipBytes(cm.BinaryData[k], maxLog)
			if err != nil {
				return n, fmt.Errorf("configmap %s: %w", cm.Name, err)
			}
			// The key's first three characters keep names apart; the rest
			// is the file's name, which SaveCoverage follows.
			files = append(files, transport.File{Name: strings.TrimSuffix(k[min(3, len(k)):], ".gz"), Data: data})
		}
		if err := report.SaveCoverage(dir, pod, files); err != nil {
			warn(fmt.Errorf("configmap %s: %w", cm.Name, err))
		}
		n++
	}
	return n, nil
}
