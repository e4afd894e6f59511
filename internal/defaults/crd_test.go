package defaults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// specProperties reads the properties of spec in the generated CRD of
// file (manifests/crd/bases), of its only version.
func specProperties(t *testing.T, file string) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "manifests", "crd", "bases", file))
	require.NoError(t, err)
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties map[string]map[string]any `json:"properties"`
							} `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(b, &crd))
	require.Len(t, crd.Spec.Versions, 1)
	props := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec.Properties
	require.NotEmpty(t, props)
	return props
}

// TestCRDDefaultsAreTheGoDefaults: every default the TestRun CRD declares
// equals the Go constant the command line, the runner and the operator
// use, and each of those constants the CRD can default is declared there.
func TestCRDDefaultsAreTheGoDefaults(t *testing.T) {
	props := specProperties(t, "k8s-testrun.io_testruns.yaml")
	want := map[string]any{
		"parallelism":    Parallelism,
		"timeout":        Timeout,
		"pendingTimeout": PendingTimeout,
		"infraRetries":   InfraRetries,
		"resultLimit":    ResultLimit,
		"sidecar":        Sidecar,
		"nodeLostAfter":  NodeLostAfter,
	}
	got := map[string]any{}
	for field, p := range props {
		d, ok := p["default"]
		if !ok {
			continue
		}
		switch want[field].(type) {
		case time.Duration:
			s, isString := d.(string)
			require.True(t, isString, "%s's default %v is a duration string", field, d)
			v, err := time.ParseDuration(s)
			require.NoError(t, err, field)
			got[field] = v
		case int:
			n, isNumber := d.(float64)
			require.True(t, isNumber, "%s's default %v is a number", field, d)
			got[field] = int(n)
		default:
			got[field] = d
		}
	}
	assert.Equal(t, want, got, "the CRD's defaults (api/v1alpha1 +kubebuilder:default markers; make generate) and package defaults")
}

// TestCRDSaysTheFlakyRetriesDefault: flakyRetries has no CRD default (the
// field is immutable and optional); its description names the operator's.
func TestCRDSaysTheFlakyRetriesDefault(t *testing.T) {
	props := specProperties(t, "k8s-testrun.io_testruns.yaml")
	desc, _ := props["flakyRetries"]["description"].(string)
	assert.Contains(t, strings.Join(strings.Fields(desc), " "), fmt.Sprintf("Unset means %d.", FlakyRetries))
	_, hasDefault := props["flakyRetries"]["default"]
	assert.False(t, hasDefault)
}
