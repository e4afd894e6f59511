package app

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/operator"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
)

// putQuarantine gives the operator the run's quarantine file (already
// checked by config.Validate): a ConfigMap named after the run, which
// run.Spec.Quarantine then names. It exists before the run does, since
// the operator reads it when the run starts; ownQuarantine hands it to
// the run once created, so it goes with it.
func (p *pipeline) putQuarantine(ctx context.Context, c client.Client, run *v1alpha1.TestRun) (*corev1.ConfigMap, error) {
	l := p.cfg.QuarantineList
	if l == nil {
		return nil, nil
	}
	b, err := yaml.Marshal(quarantine.File{Quarantine: l.Entries})
	if err != nil {
		return nil, fmt.Errorf("encoding the quarantine: %w", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: run.Name + "-quarantine", Namespace: run.Namespace,
			Labels: map[string]string{k8s.LabelManagedBy: k8s.ManagedBy, k8s.LabelRun: run.Name}},
		Data: map[string]string{operator.QuarantineKey: string(b)},
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), operatorCreateTimeout)
	defer cancel()
	if err := c.Create(cctx, cm); err != nil {
		return nil, k8s.Explain("creating configmap "+cm.Name+" for the quarantine", cm.Namespace, err)
	}
	run.Spec.Quarantine = &v1alpha1.QuarantineRef{ConfigMap: cm.Name}
	return cm, nil
}

// ownQuarantine makes the run the owner of its quarantine ConfigMap, so
// the garbage collector deletes it with the run; should the run not
// exist, the ConfigMap is deleted now.
func (p *pipeline) ownQuarantine(ctx context.Context, c client.Client, cm *corev1.ConfigMap, run *v1alpha1.TestRun, created bool) {
	if cm == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	if created && run.UID != "" {
		cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "TestRun",
			Name: run.Name, UID: run.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
		err = c.Update(cctx, cm)
	} else if err = c.Delete(cctx, cm); apierrors.IsNotFound(err) {
		err = nil
	}
	if err != nil {
		p.log.Warn("quarantine configmap " + cm.Name + ": " + err.Error())
	}
}
