package operator

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// maxStored is what a ConfigMap may hold, with room for its metadata: the
// API server refuses objects over 1 MiB.
const maxStored = 1000 * 1000

// TooLargeError is data that does not fit in a ConfigMap.
type TooLargeError struct {
	What string
	Size int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes compressed, more than the %d a ConfigMap holds", e.What, e.Size, maxStored)
}

// put creates cm, or replaces the data of the ConfigMap of that name, which
// must be controlled by the same owner.
func put(ctx context.Context, c client.Client, r client.Reader, cm *corev1.ConfigMap) error {
	err := c.Create(ctx, cm)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("creating configmap %s: %w", cm.Name, err)
		}
		return nil
	}
	cur := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKeyFromObject(cm), cur); err != nil {
		return fmt.Errorf("reading configmap %s: %w", cm.Name, err)
	}
	owner := metav1.GetControllerOf(cm)
	if owner != nil && !controlledBy(cur, owner.UID) {
		return fmt.Errorf("configmap %s/%s exists and belongs to something else", cm.Namespace, cm.Name)
	}
	cur.Labels, cur.Annotations = cm.Labels, cm.Annotations
	cur.Data, cur.BinaryData = cm.Data, cm.BinaryData
	if err := c.Update(ctx, cur); err != nil {
		return fmt.Errorf("updating configmap %s: %w", cm.Name, err)
	}
	return nil
}

// resultsConfigMap keeps the collector's log of one attempt, gzipped, so
// the report can be built from it later exactly as direct mode builds it.
func resultsConfigMap(tc *v1alpha1.TestCase, attempt int, log []byte) (*corev1.ConfigMap, error) {
	gz, err := gzipBytes(log)
	if err != nil {
		return nil, err
	}
	if len(gz) > maxStored {
		return nil, &TooLargeError{What: "the collector's log", Size: len(gz)}
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ResultsName(tc.Name),
			Namespace: tc.Namespace,
			Labels: map[string]string{
				k8s.LabelManagedBy: k8s.ManagedBy,
				k8s.LabelRun:       tc.Spec.TestRun,
				k8s.LabelCase:      CaseOf(tc).ID,
				k8s.LabelRole:      RoleResults,
			},
			Annotations:     map[string]string{AnnotationAttempt: strconv.Itoa(attempt)},
			OwnerReferences: []metav1.OwnerReference{controllerRef(tc, v1alpha1.GroupVersion.WithKind("TestCase"))},
		},
		BinaryData: map[string][]byte{ResultsKey: gz},
	}, nil
}

// controllerRef makes owner the controller of what it creates, so deleting
// the owner deletes it.
func controllerRef(owner metav1.Object, gvk schema.GroupVersionKind) metav1.OwnerReference {
	return *metav1.NewControllerRef(owner, gvk)
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return buf.Bytes(), nil
}

func gunzipBytes(b []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, limit))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	return out, nil
}

// maxSkipText bounds the text pytest gives a module it skipped at
// collection (its location and reason), so that many of them still fit.
const maxSkipText = 4096

// collectionConfigMap keeps pytest's testcases for what the collection of
// a base of the run skipped, so the report can carry them as direct mode
// does.
func collectionConfigMap(run *v1alpha1.TestRun, base int, skipped []junit.Testcase) (*corev1.ConfigMap, error) {
	kept := make([]junit.Testcase, len(skipped))
	for i, tc := range skipped {
		if tc.Skipped != nil {
			res := *tc.Skipped
			res.Text = junit.CutHead(res.Text, maxSkipText)
			tc.Skipped = &res
		}
		kept[i] = tc
	}
	data, err := json.Marshal(kept)
	if err != nil {
		return nil, fmt.Errorf("encoding what the collection skipped: %w", err)
	}
	gz, err := gzipBytes(data)
	if err != nil {
		return nil, err
	}
	if len(gz) > maxStored {
		return nil, &TooLargeError{What: "the list of modules skipped at collection", Size: len(gz)}
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      CollectionNameOf(run.Name, base),
			Namespace: run.Namespace,
			Labels: map[string]string{
				k8s.LabelManagedBy: k8s.ManagedBy,
				k8s.LabelRun:       run.Name,
				k8s.LabelRole:      RoleCollection,
			},
			OwnerReferences: []metav1.OwnerReference{controllerRef(run, v1alpha1.GroupVersion.WithKind("TestRun"))},
		},
		BinaryData: map[string][]byte{CollectionKey: gz},
	}, nil
}

// skippedAtCollection reads what collectionConfigMap kept.
func skippedAtCollection(cm *corev1.ConfigMap) ([]junit.Testcase, error) {
	data, err := gunzipBytes(cm.BinaryData[CollectionKey], maxLog)
	if err != nil {
		return nil, fmt.Errorf("configmap %s: %w", cm.Name, err)
	}
	var out []junit.Testcase
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("configmap %s: %w", cm.Name, err)
	}
	return out, nil
}
