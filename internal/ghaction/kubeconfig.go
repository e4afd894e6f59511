package ghaction

import (
	"errors"
	"strings"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// EnvKubeconfig is the variable the action falls back to when the
// kubeconfig input is empty.
const EnvKubeconfig = "KUBECONFIG"

// checkKubeconfig tells whether the kubeconfig the action was given can
// make a client, without contacting the cluster. input names where it came
// from (the kubeconfig input, or KUBECONFIG); value is shown only for a
// path, never for contents.
func checkKubeconfig(data []byte, path string) error {
	var cc clientcmd.ClientConfig
	if path != "" {
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
		if _, err := rules.Load(); err != nil {
			return &config.Error{Input: EnvKubeconfig, Value: path, Fix: "is not a readable kubeconfig: " + kubeconfigReason(err) +
				"; point KUBECONFIG at a kubeconfig file in the workspace, or give its contents in the kubeconfig input"}
		}
		cc = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	} else {
		raw, err := clientcmd.Load(data)
		if err != nil {
			return &config.Error{Input: InputKubeconfig, Fix: "is not a kubeconfig: " + kubeconfigReason(err) +
				"; give the contents of a kubeconfig file (YAML), e.g. from a secret"}
		}
		cc = clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{})
	}
	if _, err := cc.ClientConfig(); err != nil {
		input, value := InputKubeconfig, ""
		if path != "" {
			input, value = EnvKubeconfig, path
		}
		reason := kubeconfigReason(err)
		if clientcmd.IsEmptyConfig(err) {
			reason = "it configures no cluster"
		}
		return &config.Error{Input: input, Value: value, Fix: "cannot be used: " + reason +
			"; it needs a current-context naming a cluster with a server and a user"}
	}
	return nil
}

// kubeconfigReason is err's text on one line, without the contents it may
// quote.
func kubeconfigReason(err error) string {
	var agg interface{ Errors() []error }
	if errors.As(err, &agg) && len(agg.Errors()) > 0 {
		var parts []string
		for _, e := range agg.Errors() {
			parts = append(parts, e.Error())
		}
		return oneLineText(strings.Join(parts, "; "))
	}
	return oneLineText(err.Error())
}

func oneLineText(s string) string {
	s = strings.NewReplacer("\r\n", "; ", "\r", "; ", "\n", "; ").Replace(strings.TrimSpace(s))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// checkPodTemplate parses the pod_template input as the run will.
func checkPodTemplate(data []byte) error {
	_, err := k8s.ParseTemplate(data)
	if err == nil {
		return nil
	}
	fix := "is not a pod template: " + oneLineText(strings.TrimPrefix(err.Error(), "pod template: "))
	if !strings.Contains(fix, "give a ") {
		fix += "; give a PodTemplateSpec (metadata and spec) or a bare PodSpec, as YAML"
	}
	return &config.Error{Input: InputPodTemplate, Fix: fix}
}
