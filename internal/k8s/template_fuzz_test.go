package k8s

import (
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// FuzzParseTemplate: ParseTemplate never panics, and a template it accepts
// reads back the same once written out.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{
		"spec:\n  nodeSelector:\n    pool: tests\n",
		"metadata:\n  labels: {a: b}\nspec:\n  containers:\n  - name: test\n    resources: {limits: {memory: 1Gi}}\n",
		"nodeSelector: {pool: tests}\ntolerations: [{key: k, operator: Exists}]\n",
		`{"spec":{"serviceAccountName":"x"}}`,
		"spec: [unclosed",
		"just words",
		"spec:\n  nodeSelektor: {a: b}\n",
		"",
		"---\n...\n",
		"&a [*a]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tmpl, err := ParseTemplate(data)
		if err != nil || tmpl == nil {
			return
		}
		out, err := yaml.Marshal(tmpl)
		require.NoError(t, err)
		again, err := ParseTemplate(out)
		require.NoError(t, err, "%s", out)
		require.NotNil(t, again)
	})
}
