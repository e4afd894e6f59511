package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/manifests"
)

// installFieldManager owns, in server-side apply, what install applies.
const installFieldManager = "k8s-testrun-install"

// installCommand applies the operator's manifests, the same kustomizations
// as `kubectl apply -k manifests/default`, built into the binary:
//
//	install --image IMAGE [--overlay default|local] [flags]
func installCommand(ctx context.Context, o installOptions, env Env) error {
	if err := operatorImage(ctx, &o, env); err != nil {
		return err
	}
	objs, err := manifests.BuildScoped(o.overlay, manifests.Scope{Namespaces: o.watchNamespaces, ClusterWide: o.clusterWide})
	if err != nil {
		return err
	}
	if err := setImage(objs, o.image); err != nil {
		return err
	}
	watched := "every namespace (--cluster-wide)"
	if ns := manifests.Watched(objs); ns != nil {
		watched = "namespaces " + strings.Join(ns, ", ")
	}
	fmt.Fprintf(env.Stderr, "the operator watches %s\n", watched)
	if o.print {
		for _, o := range objs {
			b, err := yaml.Marshal(o.Object)
			if err != nil {
				return fmt.Errorf("encoding %s: %w", o.GetName(), err)
			}
			fmt.Fprintf(env.Stdout, "---\n%s", b)
		}
		return nil
	}
	if o.kubeconfig == "" {
		o.kubeconfig = env.Getenv("KUBECONFIG")
	}
	cluster, err := k8s.Connect(k8s.ClientOptions{Kubeconfig: o.kubeconfig, Context: o.context})
	if err != nil {
		return err
	}
	if err := namespacesExist(ctx, cluster, o.watchNamespaces); err != nil {
		return err
	}
	if o.overlay == manifests.Local {
		if err := setAPIServer(objs, cluster.Config.Host); err != nil {
			return err
		}
	}
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cluster.Client.Discovery()))
	log := logger(env.Stderr, false)
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("finding the resource of %s: %w", gvk, err)
		}
		ri := dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: installFieldManager, Force: true}); err != nil {
			return fmt.Errorf("applying %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		log.Info("applied", "kind", o.GetKind(), "name", o.GetName(), "namespace", o.GetNamespace())
	}
	if err := revokeStale(ctx, cluster, objs, log); err != nil {
		return err
	}
	if o.wait <= 0 {
		return nil
	}
	dep := find(objs, "Deployment")
	if dep == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	if err := waitAvailable(wctx, cluster, dep.GetNamespace(), dep.GetName()); err != nil {
		return err
	}
	log.Info("operator available", "namespace", dep.GetNamespace(), "deployment", dep.GetName())
	return nil
}

// namespacesExist checks, before anything is applied, that the namespaces
// to watch are there to hold the operator's RoleBindings.
func namespacesExist(ctx context.Context, cluster *k8s.Cluster, namespaces []string) error {
	for _, ns := range namespaces {
		_, err := cluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("--watch-namespace %s: no such namespace: create it first (kubectl create namespace %s)", ns, ns)
		}
		if err != nil && !apierrors.IsForbidden(err) {
			return k8s.Explain("reading namespace "+ns, ns, err)
		}
	}
	return nil
}

// revokeStale deletes the bindings of the operator's ClusterRole that an
// earlier install made and this one does not: the ClusterRoleBinding of
// --cluster-wide, the RoleBindings of namespaces no longer watched. Rights
// are never left behind by a narrower install.
func revokeStale(ctx context.Context, cluster *k8s.Cluster, objs []*unstructured.Unstructured, log *slog.Logger) error {
	rbac := cluster.Client.RbacV1()
	if findNamed(objs, "ClusterRoleBinding", manifests.OperatorName) == nil {
		err := rbac.ClusterRoleBindings().Delete(ctx, manifests.OperatorName, metav1.DeleteOptions{})
		switch {
		case err == nil:
			log.Info("revoked", "kind", "ClusterRoleBinding", "name", manifests.OperatorName)
		case !apierrors.IsNotFound(err):
			return k8s.Explain("revoking the operator's cluster-wide rights", "", err)
		}
	}
	list, err := rbac.RoleBindings("").List(ctx, metav1.ListOptions{LabelSelector: operatorSelector})
	if err != nil {
		return k8s.Explain("listing the operator's RoleBindings", "", err)
	}
	for _, b := range list.Items {
		if b.Name != manifests.OperatorName || findIn(objs, "RoleBinding", b.Namespace, b.Name) {
			continue
		}
		err := rbac.RoleBindings(b.Namespace).Delete(ctx, b.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return k8s.Explain("revoking the operator's rights", b.Namespace, err)
		}
		log.Info("revoked", "kind", "RoleBinding", "name", b.Name, "namespace", b.Namespace)
	}
	return nil
}

// operatorSelector selects what the manifests label as the operator's.
const operatorSelector = "app.kubernetes.io/name=k8s-testrun,app.kubernetes.io/component=operator"

func findNamed(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func findIn(objs []*unstructured.Unstructured, kind, namespace, name string) bool {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return true
		}
	}
	return false
}

func find(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	return nil
}

// editDeployment changes the operator's Deployment through its typed form.
func editDeployment(objs []*unstructured.Unstructured, edit func(*appsv1.Deployment)) error {
	u := find(objs, "Deployment")
	if u == nil {
		return errors.New("the manifests hold no Deployment")
	}
	dep := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, dep); err != nil {
		return fmt.Errorf("reading the Deployment: %w", err)
	}
	edit(dep)
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dep)
	if err != nil {
		return fmt.Errorf("encoding the Deployment: %w", err)
	}
	// The typed form adds empty fields (status, creationTimestamp) that
	// server-side apply would claim.
	delete(obj, "status")
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(obj, "spec", "template", "metadata", "creationTimestamp")
	u.Object = obj
	return nil
}

func setImage(objs []*unstructured.Unstructured, image string) error {
	return editDeployment(objs, func(d *appsv1.Deployment) {
		for i := range d.Spec.Template.Spec.Containers {
			d.Spec.Template.Spec.Containers[i].Image = image
		}
	})
}

// setAPIServer points the local overlay's operator at the API server the
// kubeconfig names, when that is on the node's loopback.
func setAPIServer(objs []*unstructured.Unstructured, host string) error {
	u, err := url.Parse(host)
	if err != nil {
		return fmt.Errorf("API server address %q: %w", host, err)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("the local overlay is for a cluster whose API server is on the node's loopback; the kubeconfig names %s (use --overlay default)", host)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return editDeployment(objs, func(d *appsv1.Deployment) {
		for i := range d.Spec.Template.Spec.Containers {
			c := &d.Spec.Template.Spec.Containers[i]
			for j := range c.Env {
				switch c.Env[j].Name {
				case "KUBERNETES_SERVICE_HOST":
					c.Env[j].Value = u.Hostname()
				case "KUBERNETES_SERVICE_PORT":
					c.Env[j].Value = port
				}
			}
		}
	})
}

// waitAvailable waits until the Deployment's current generation is rolled
// out and available.
func waitAvailable(ctx context.Context, cluster *k8s.Cluster, namespace, name string) error {
	for {
		d, err := cluster.Client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation && d.Spec.Replicas != nil &&
			d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.AvailableReplicas == *d.Spec.Replicas {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for deployment %s/%s to be available: %w (see kubectl -n %s describe deployment %s)", namespace, name, ctx.Err(), namespace, name)
		case <-time.After(time.Second):
		}
	}
}
