package config

import (
	"strings"

	"sigs.k8s.io/yaml"
)

// API coverage sources other than a file path.
const (
	// APICoverageLocal is the local cluster's audit log (hack/cluster),
	// named by K8S_TESTRUN_AUDIT_LOG.
	APICoverageLocal = "local"
	// APICoverageKindPrefix starts kind:CLUSTER, the audit log inside the
	// kind cluster's control-plane container.
	APICoverageKindPrefix = "kind:"
)

// checkAPICoverage validates --api-coverage: its source, the mode, and a
// pod template that names a ServiceAccount, without which no test pod
// calls the API as itself.
func (c *Config) checkAPICoverage(bad func(input, value, fix string)) {
	v := c.APICoverage
	if v == "" {
		return
	}
	if name, ok := strings.CutPrefix(v, APICoverageKindPrefix); ok && name == "" {
		bad("api coverage", v, "names no kind cluster; give kind:NAME, e.g. kind:kind")
		return
	}
	if !templateNamesServiceAccount(c.PodTemplate) {
		bad("api coverage", v, "needs test pods that call the API as themselves: give a pod template (--pod-template) whose spec names a serviceAccountName")
	}
}

// templateNamesServiceAccount reports whether a pod template, a
// PodTemplateSpec or a bare PodSpec as k8s.ParseTemplate reads them, names
// a ServiceAccount.
func templateNamesServiceAccount(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	var probe map[string]any
	if yaml.Unmarshal(data, &probe) != nil {
		return false // the pod template's own check says why
	}
	spec := probe
	_, hasSpec := probe["spec"]
	_, hasMeta := probe["metadata"]
	if hasSpec || hasMeta {
		spec, _ = probe["spec"].(map[string]any)
	}
	for _, k := range []string{"serviceAccountName", "serviceAccount"} {
		if s, _ := spec[k].(string); s != "" {
			return true
		}
	}
	return false
}
