package manifests

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// Build runs kustomize over the named overlay and returns its objects, in
// the order kustomize sorts them for applying (namespaces and CRDs first).
// The operator watches its own namespace only.
func Build(overlay string) ([]*unstructured.Unstructured, error) {
	return BuildScoped(overlay, Scope{})
}
