package k8s

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// ResultsSizeLimit bounds the results volume of a test pod, the emptyDir
// the test and the collector share: a test that fills it is evicted rather
// than filling the node's disk. The collector ships at most a few MiB of it.
const ResultsSizeLimit = 1 << 30

// resultsVolume names the results emptyDir of a test pod.
const resultsVolume = "results"

// secure gives every pod k8s-testrun creates the defaults of a pod running
// untrusted code: the runtime's default seccomp profile, and in every
// container no privilege escalation and no capabilities; the results volume
// gets ResultsSizeLimit.
//
// It runs after the user's pod template is merged, and fills in only what
// the template left unset: a template that sets a field (a pod's
// seccompProfile, a container's allowPrivilegeEscalation or capabilities,
// even `capabilities: {}`, or the results volume's sizeLimit) keeps its
// value. Defaults the API server would refuse beside the template's choice
// (allowPrivilegeEscalation false in a privileged container, or one that
// adds CAP_SYS_ADMIN) are left out.
func secure(pod *corev1.Pod) *corev1.Pod {
	sc := pod.Spec.SecurityContext
	if sc == nil {
		sc = &corev1.PodSecurityContext{}
		pod.Spec.SecurityContext = sc
	}
	if sc.SeccompProfile == nil {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	for i := range pod.Spec.InitContainers {
		secureContainer(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		secureContainer(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.Name == resultsVolume && v.EmptyDir != nil && v.EmptyDir.SizeLimit == nil {
			v.EmptyDir.SizeLimit = resource.NewQuantity(ResultsSizeLimit, resource.BinarySI)
		}
	}
	return pod
}

func secureContainer(c *corev1.Container) {
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
		c.SecurityContext = sc
	}
	privileged := sc.Privileged != nil && *sc.Privileged
	if sc.Capabilities == nil && !privileged {
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	}
	if sc.AllowPrivilegeEscalation == nil && !privileged && !addsSysAdmin(sc.Capabilities) {
		sc.AllowPrivilegeEscalation = ptr.To(false)
	}
}

func addsSysAdmin(caps *corev1.Capabilities) bool {
	return caps != nil && (slices.Contains(caps.Add, "SYS_ADMIN") || slices.Contains(caps.Add, "CAP_SYS_ADMIN"))
}
