package k8s

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// ReasonServiceNotReady ends an attempt whose test never started because a
// service of the pod template did not become ready within the pending
// timeout.
const ReasonServiceNotReady = "ServiceNotReady"

// Services: every container of the pod template other than the test
// container (and the collector, which is ours) is a service, and so is every
// init container with restartPolicy Always. Services share the pod's network,
// so a test reaches them on 127.0.0.1, or by name through hostAliases.
//
// With native sidecars a service runs as an init container with
// restartPolicy Always. The kubelet starts the next init container, and in
// the end the test container, only once a sidecar has started, and a sidecar
// counts as started when its startupProbe has passed (or, with no
// startupProbe, as soon as its process runs): a readinessProbe alone gates
// nothing. So a service that has a readinessProbe and no startupProbe gets a
// startupProbe derived from it: the same check, every second, with no limit
// of failures of its own; the pending timeout bounds the wait. Sidecars are
// stopped once the test container has exited, so no service holds the pod.
const (
	derivedProbePeriod    = 1
	derivedProbeFailures  = 3600
	defaultServiceMessage = "its startup probe has not passed"
)

// placeServices turns the services of a merged pod into native sidecars,
// placed after the init containers already there (the collector first, then
// the template's own), as Kubernetes starts regular containers after every
// init container. Without native sidecars, services stay regular containers beside
// the test.
func placeServices(pod *corev1.Pod, native bool) *corev1.Pod {
	var main, services []corev1.Container
	for _, c := range pod.Spec.Containers {
		if isService(c.Name) {
			services = append(services, c)
		} else {
			main = append(main, c)
		}
	}
	if !native {
		for _, c := range pod.Spec.InitContainers {
			if c.Name != CollectorContainer && isRestartable(c) {
				// A server without native sidecars would run it to its end
				// before the test ever starts.
				c.RestartPolicy = nil
				services = append(services, c)
			}
		}
		pod.Spec.InitContainers = removeRestartable(pod.Spec.InitContainers)
		pod.Spec.Containers = append(main, services...)
		return pod
	}
	for _, s := range services {
		s.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, s)
	}
	pod.Spec.Containers = main
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.Name != CollectorContainer && isRestartable(*c) && c.StartupProbe == nil && c.ReadinessProbe != nil {
			c.StartupProbe = startupFrom(c.ReadinessProbe)
		}
	}
	return pod
}

// withoutServices drops the services of a merged pod, for pods such as
// discovery that run one command and need none.
func withoutServices(pod *corev1.Pod) *corev1.Pod {
	var main []corev1.Container
	for _, c := range pod.Spec.Containers {
		if !isService(c.Name) {
			main = append(main, c)
		}
	}
	pod.Spec.Containers = main
	pod.Spec.InitContainers = removeRestartable(pod.Spec.InitContainers)
	return pod
}

func removeRestartable(cs []corev1.Container) []corev1.Container {
	var out []corev1.Container
	for _, c := range cs {
		if c.Name == CollectorContainer || !isRestartable(c) {
			out = append(out, c)
		}
	}
	return out
}

func isService(name string) bool {
	return name != TestContainer && name != CollectorContainer
}

func isRestartable(c corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func startupFrom(r *corev1.Probe) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        *r.ProbeHandler.DeepCopy(),
		InitialDelaySeconds: r.InitialDelaySeconds,
		TimeoutSeconds:      r.TimeoutSeconds,
		PeriodSeconds:       derivedProbePeriod,
		SuccessThreshold:    1,
		FailureThreshold:    derivedProbeFailures,
	}
}

// serviceNotReady names the services of a pod that have not started (their
// startup probe has not passed) while the test container has not started
// either, once the pod is older than the pending timeout.
func serviceNotReady(pod *corev1.Pod, stuckFor time.Duration, opts ObserveOptions) (string, bool) {
	if stuckFor < opts.PendingTimeout {
		return "", false
	}
	if test := containerStatus(pod, TestContainer); test != nil && (test.State.Running != nil || test.State.Terminated != nil) {
		return "", false
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, cs := range pod.Status.InitContainerStatuses {
		statuses[cs.Name] = cs
	}
	var waiting []string
	for _, c := range pod.Spec.InitContainers {
		if c.Name == CollectorContainer || !isRestartable(c) {
			continue
		}
		cs, ok := statuses[c.Name]
		if ok && cs.Started != nil && *cs.Started {
			continue
		}
		waiting = append(waiting, describeService(c.Name, cs, ok))
	}
	if len(waiting) == 0 {
		return "", false
	}
	sort.Strings(waiting)
	return fmt.Sprintf("%s within the pending timeout of %s", strings.Join(waiting, "; "), opts.PendingTimeout), true
}

func describeService(name string, cs corev1.ContainerStatus, seen bool) string {
	why := defaultServiceMessage
	switch {
	case !seen || (cs.State.Waiting != nil && cs.State.Waiting.Reason == "PodInitializing"):
		why = "it did not start"
	case cs.State.Waiting != nil:
		why = strings.TrimSpace(cs.State.Waiting.Reason + " " + cs.State.Waiting.Message)
	case cs.State.Terminated != nil:
		why = fmt.Sprintf("it exited with code %d", cs.State.Terminated.ExitCode)
	}
	if cs.RestartCount > 0 {
		why += fmt.Sprintf(", %d restarts", cs.RestartCount)
	}
	return fmt.Sprintf("service %q not ready: %s", name, why)
}

// mergeServices merges the template onto a test pod and places its services.
func mergeServices(pod *corev1.Pod, o TestPodOptions) (*corev1.Pod, error) {
	out, err := mergeTemplate(pod, o.Template)
	if err != nil {
		return nil, err
	}
	return placeServices(out, o.NativeSidecar), nil
}

// collectorExited reports a collector that runs as a regular container and
// has shipped the results and exited.
func collectorExited(pod *corev1.Pod) bool {
	c := containerStatus(pod, CollectorContainer)
	return c != nil && c.State.Terminated != nil
}
