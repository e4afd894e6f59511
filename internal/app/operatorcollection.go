package app

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/collectcache"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
)

// handedCollections are the collection cache's part in an operator run:
// the key of each base's collection, which bases the cache served, and
// the ConfigMaps that carry those collections to the operator.
type handedCollections struct {
	keys []collectcache.Key
	hit  []bool
	cms  []*corev1.ConfigMap
}

// handCollections looks up each base's collection in the collection cache
// under the key direct mode uses, with the operator's discovery command,
// and puts each one found in the run's collection ConfigMap, where the
// operator takes it instead of starting a discovery pod. A log whose gzip
// is over a ConfigMap's 1 MiB, or a ConfigMap this user may not create,
// leaves that base to the operator's discovery. Without a cache on this
// machine (no records to trust) it does nothing and returns nil.
func (p *pipeline) handCollections(ctx context.Context, c client.Client, run *v1alpha1.TestRun, bases []*base) *handedCollections {
	if p.collections == nil {
		return nil
	}
	run.Spec.CollectionConfigMap = run.Name + "-discovery"
	h := &handedCollections{keys: make([]collectcache.Key, len(bases)), hit: make([]bool, len(bases))}
	argv := operator.DiscoveryCommand(run)
	for i, b := range bases {
		h.keys[i] = p.collectionKey(b, argv)
		image, err := p.collectionImage(b)
		if err != nil {
			continue
		}
		found, log, ok := p.collections.FindLog(ctx, image, h.keys[i])
		if !ok {
			continue
		}
		cm, err := operator.DiscoveryLogConfigMap(run.Namespace, operator.DiscoveryLogName(run, i), log)
		if err == nil {
			cm.Labels[k8s.LabelRun] = run.Name
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), operatorCreateTimeout)
			err = c.Create(cctx, cm)
			cancel()
		}
		if err != nil {
			p.log.Warn("collection cache: the operator discovers instead", "base", b.ref, "error", err)
			continue
		}
		h.cms, h.hit[i] = append(h.cms, cm), true
		p.log.Info("tests from the collection cache, no discovery pod", "image", b.image.Image, "tests", len(found.IDs))
	}
	return h
}

// own makes the run the owner of the ConfigMaps handCollections created,
// so the garbage collector deletes them with the run; should the run not
// exist, they are deleted now.
func (h *handedCollections) own(ctx context.Context, p *pipeline, c client.Client, run *v1alpha1.TestRun, created bool) {
	if h == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, cm := range h.cms {
		var err error
		if created && run.UID != "" {
			cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "TestRun",
				Name: run.Name, UID: run.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
			err = c.Update(cctx, cm)
		} else if err = c.Delete(cctx, cm); apierrors.IsNotFound(err) {
			err = nil
		}
		if err != nil {
			p.log.Warn("collection configmap " + cm.Name + ": " + err.Error())
		}
	}
}

// keep stores in the collection cache the discovery logs the operator
// left in the run's collection ConfigMaps for the bases the cache did not
// serve, once they parse as the operator parsed them: the next run of the
// same image and key then starts no discovery pod, in either mode.
func (h *handedCollections) keep(ctx context.Context, p *pipeline, c client.Client, run *v1alpha1.TestRun, bases []*base) {
	if h == nil {
		return
	}
	for i, b := range bases {
		if h.hit[i] {
			continue
		}
		cm := &corev1.ConfigMap{}
		err := c.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: operator.DiscoveryLogName(run, i)}, cm)
		if err != nil {
			p.log.Debug("collection cache: no discovery log to keep", "base", b.ref, "error", err)
			continue
		}
		log, ok, err := operator.DiscoveryLogOf(cm)
		if err == nil && ok {
			_, err = discover.ParseLog(log, 0)
		}
		if err != nil || !ok {
			p.log.Debug("collection cache: not keeping the operator's discovery log", "base", b.ref, "error", err)
			continue
		}
		p.storeCollection(ctx, b, h.keys[i], log)
	}
}
