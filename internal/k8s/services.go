package k8s

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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
func placeServices(pod *corev1.Pod, native bool, timeout time.Duration) *corev1.Pod {
	var main, services []corev1.Container
	for _, c := range pod.Spec.Containers {
		if isService(c.Name) {
			services = append(services, c)
		} else {
			main = append(main, c)
		}
	}
	if !native {
		var first []corev1.Container
		for _, c := range pod.Spec.InitContainers {
			if c.Name != CollectorContainer && isRestartable(c) {
				// A server without native sidecars would run it to its end
				// before the test ever starts.
				c.RestartPolicy = nil
				first = append(first, c)
			}
		}
		services = append(first, services...)
		pod.Spec.InitContainers = removeRestartable(pod.Spec.InitContainers)
		pod.Spec.Containers = append(main, services...)
		waitInShim(pod, services, timeout)
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
		if !ok || (cs.Started != nil && *cs.Started) || notYetRun(cs) {
			// A service still being pulled or created, or waiting its turn,
			// is not at fault: image pulls have their own reasons.
			continue
		}
		waiting = append(waiting, describeService(c.Name, cs))
	}
	if len(waiting) == 0 {
		return "", false
	}
	sort.Strings(waiting)
	return fmt.Sprintf("%s within the pending timeout of %s", strings.Join(waiting, "; "), opts.PendingTimeout), true
}

// notYetRun reports a container that has never run: waiting to be created
// (pulling its image) or for the init containers before it.
func notYetRun(cs corev1.ContainerStatus) bool {
	w := cs.State.Waiting
	return w != nil && cs.RestartCount == 0 && cs.LastTerminationState.Terminated == nil &&
		(w.Reason == "ContainerCreating" || w.Reason == "PodInitializing")
}

func describeService(name string, cs corev1.ContainerStatus) string {
	why := defaultServiceMessage
	switch {
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
	return placeServices(out, o.NativeSidecar, o.ServiceTimeout), nil
}

// collectorExited reports a collector that runs as a regular container and
// has shipped the results and exited.
func collectorExited(pod *corev1.Pod) bool {
	c := containerStatus(pod, CollectorContainer)
	return c != nil && c.State.Terminated != nil
}

// waitInShim has the test container's shim wait, before pytest, for each
// service whose readiness (or else startup) probe it can make itself over the
// pod's network: tcpSocket, httpGet, and grpc as a TCP connect. An exec probe
// runs in the service's own container, which the test container cannot
// reach, and the pod's readiness as the kubelet sees it is not readable
// without an API token, which test pods do not get: such a service is not
// waited for.
func waitInShim(pod *corev1.Pod, services []corev1.Container, timeout time.Duration) {
	var args []string
	for _, s := range services {
		if target, ok := shimCheck(s); ok {
			args = append(args, "--service", s.Name+"="+target)
		}
	}
	if len(args) == 0 {
		return
	}
	if timeout > 0 {
		args = append(args, "--service-timeout", timeout.String())
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if c.Name == TestContainer && len(c.Command) >= 2 && c.Command[1] == "shim" {
			c.Command = append(append(append([]string{}, c.Command[:2]...), args...), c.Command[2:]...)
		}
	}
}

// shimCheck is the shim's form of the check of service's probe.
func shimCheck(service corev1.Container) (string, bool) {
	probe := service.ReadinessProbe
	if probe == nil {
		probe = service.StartupProbe
	}
	if probe == nil {
		return "", false
	}
	host := func(h string) string {
		if h == "" {
			return "127.0.0.1"
		}
		return h
	}
	switch {
	case probe.TCPSocket != nil:
		port, ok := portOf(service, probe.TCPSocket.Port)
		return "tcp:" + net.JoinHostPort(host(probe.TCPSocket.Host), port), ok
	case probe.HTTPGet != nil:
		port, ok := portOf(service, probe.HTTPGet.Port)
		scheme := "http"
		if probe.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host(probe.HTTPGet.Host), port), Path: probe.HTTPGet.Path}
		if u.Path == "" {
			u.Path = "/"
		}
		return u.String(), ok
	case probe.GRPC != nil:
		return "tcp:" + net.JoinHostPort("127.0.0.1", strconv.Itoa(int(probe.GRPC.Port))), true
	}
	return "", false
}

// portOf resolves a probe's port, a number or the name of one of the
// service's ports.
func portOf(service corev1.Container, p intstr.IntOrString) (string, bool) {
	if p.Type == intstr.Int {
		return strconv.Itoa(int(p.IntVal)), p.IntVal > 0
	}
	for _, cp := range service.Ports {
		if cp.Name == p.StrVal {
			return strconv.Itoa(int(cp.ContainerPort)), true
		}
	}
	return "", false
}
