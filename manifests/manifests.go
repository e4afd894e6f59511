// Package manifests holds the operator's installation manifests, the
// kustomizations under manifests/, built into the binary so that
// `k8s-testrun install` applies exactly what `kubectl apply -k` would.
package manifests

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

//go:embed crd rbac manager default overlays components
var files embed.FS

// The kustomizations Build accepts.
const (
	// Default is the operator for any cluster.
	Default = "default"
	// Local is the operator for the local cluster of hack/cluster: on the
	// host network, with the API server at 127.0.0.1.
	Local = "local"
)

// Overlays maps an overlay name to its kustomization directory.
var Overlays = map[string]string{
	Default: "default",
	Local:   "overlays/local",
}

// BuildScoped runs kustomize over the named overlay and returns its
// objects, in the order kustomize sorts them for applying (namespaces and
// CRDs first), with the operator watching, and granted rights in, the
// namespaces of s (its own namespace only when s is empty).
func BuildScoped(overlay string, s Scope) ([]*unstructured.Unstructured, error) {
	dir, ok := Overlays[overlay]
	if !ok {
		return nil, fmt.Errorf("unknown overlay %q: use %q or %q", overlay, Default, Local)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/", p), b)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the embedded manifests: %w", err)
	}
	if s.ClusterWide {
		k := fmt.Sprintf("resources:\n- ../%s\ncomponents:\n- ../components/cluster-wide\n", dir)
		if err := mem.WriteFile("/cluster-wide/kustomization.yaml", []byte(k)); err != nil {
			return nil, err
		}
		dir = "cluster-wide"
	}
	opts := krusty.MakeDefaultOptions()
	// kubectl's order: namespaces, CRDs and RBAC before what needs them.
	opts.Reorder = krusty.ReorderOptionLegacy
	rm, err := krusty.MakeKustomizer(opts).Run(mem, path.Join("/", dir))
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", dir, err)
	}
	out := make([]*unstructured.Unstructured, 0, rm.Size())
	for _, r := range rm.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", r.CurId(), err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &obj.Object); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", r.CurId(), err)
		}
		out = append(out, obj)
	}
	if !s.ClusterWide {
		return s.bindNamespaces(out)
	}
	return out, nil
}

// OperatorName names the operator's ServiceAccount, ClusterRole, the
// bindings of that role and its Deployment.
const OperatorName = "k8s-testrun-operator"

// The operator's arguments that say where it watches.
const (
	argWatch         = "--watch-namespace="
	argAllNamespaces = "--all-namespaces"
	// ownNamespace is the operator's own namespace, which the kubelet
	// expands in its arguments.
	ownNamespace = "$(POD_NAMESPACE)"
)

// Scope is where the operator acts. The zero Scope is its own namespace.
type Scope struct {
	// Namespaces are watched besides the operator's own: the ClusterRole's
	// rules are granted in each by a RoleBinding.
	Namespaces []string
	// ClusterWide binds the ClusterRole cluster-wide and watches every
	// namespace (manifests/components/cluster-wide).
	ClusterWide bool
}

func (s Scope) validate() error {
	if s.ClusterWide && len(s.Namespaces) > 0 {
		return errors.New("--watch-namespace and --cluster-wide exclude each other: --cluster-wide already watches every namespace")
	}
	for _, ns := range s.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("--watch-namespace %q: not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
	}
	return nil
}

// Watched is the namespaces the operator of objs watches, its own first;
// nil for every namespace.
func Watched(objs []*unstructured.Unstructured) []string {
	dep := findObject(objs, "Deployment", OperatorName)
	if dep == nil {
		return nil
	}
	args, _ := operatorArgs(dep)
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, argWatch); ok {
			return strings.Split(strings.ReplaceAll(v, ownNamespace, dep.GetNamespace()), ",")
		}
	}
	return nil
}

// operatorArgs are the arguments of the operator's container.
func operatorArgs(dep *unstructured.Unstructured) ([]string, error) {
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		return nil, fmt.Errorf("the operator's Deployment has %d containers, not 1", len(containers))
	}
	args, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return args, err
}

// bindNamespaces grants the operator its rules in s.Namespaces, by copies
// of the RoleBinding of its own namespace, and has it watch them too.
func (s Scope) bindNamespaces(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	dep := findObject(objs, "Deployment", OperatorName)
	own := findObject(objs, "RoleBinding", OperatorName)
	if dep == nil || own == nil {
		return nil, errors.New("the manifests hold no operator Deployment or RoleBinding")
	}
	watch := []string{dep.GetNamespace()}
	for _, ns := range s.Namespaces {
		if !slices.Contains(watch, ns) {
			watch = append(watch, ns)
		}
	}
	if len(watch) == 1 {
		return objs, nil
	}
	at := slices.Index(objs, own)
	var bindings []*unstructured.Unstructured
	for _, ns := range watch[1:] {
		b := own.DeepCopy()
		b.SetNamespace(ns)
		bindings = append(bindings, b)
	}
	objs = slices.Insert(objs, at+1, bindings...)

	args, err := operatorArgs(dep)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, argWatch) })
	if i < 0 {
		return nil, errors.New("the operator's Deployment has no " + argWatch + " argument")
	}
	// The argument list is replaced whole by server-side apply, unlike an
	// env entry, whose valueFrom an earlier apply would keep.
	args[i] = argWatch + strings.Join(watch, ",")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if err := unstructured.SetNestedStringSlice(c, args, "args"); err != nil {
		return nil, err
	}
	if err := unstructured.SetNestedSlice(dep.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		return nil, err
	}
	return objs, nil
}

func findObject(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}
