package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeTemplate(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pod.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestAPICoverageFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tmpl := range []string{
		"spec:\n  serviceAccountName: tests\n",
		"metadata:\n  labels: {a: b}\nspec:\n  serviceAccountName: tests\n",
		"serviceAccountName: tests\n",
	} {
		for _, src := range []string{"local", "kind:kind", "/var/log/audit.log"} {
			c, err := ParseRun([]string{"--repository", "r.io/x", "--api-coverage", src, "--pod-template", writeTemplate(t, tmpl), dir}, env(nil), &bytes.Buffer{})
			require.NoError(t, err, tmpl)
			assert.Equal(t, src, c.APICoverage)
		}
	}
	c, err := ParseRun([]string{"--repository", "r.io/x", dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Empty(t, c.APICoverage, "off by default")
	c, err = ParseRun([]string{"--repository", "r.io/x", "--mode", "operator", "--api-coverage", "local", "--pod-template", writeTemplate(t, "spec:\n  serviceAccountName: tests\n"), dir}, env(nil), &bytes.Buffer{})
	require.NoError(t, err, "operator mode takes it too")
	assert.Equal(t, "local", c.APICoverage)
}

func TestAPICoverageBadValues(t *testing.T) {
	dir := t.TempDir()
	withSA := writeTemplate(t, "spec:\n  serviceAccountName: tests\n")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no pod template", []string{"--api-coverage", "local"}, `api coverage "local": needs test pods that call the API as themselves`},
		{"template without a service account", []string{"--api-coverage", "local", "--pod-template", writeTemplate(t, "spec:\n  nodeSelector: {a: b}\n")}, "names a serviceAccountName"},
		{"service account in the wrong place", []string{"--api-coverage", "local", "--pod-template", writeTemplate(t, "metadata:\n  serviceAccountName: x\n")}, "names a serviceAccountName"},
		{"kind without a name", []string{"--api-coverage", "kind:", "--pod-template", withSA}, `api coverage "kind:": names no kind cluster`},
		{"operator mode without a service account", []string{"--api-coverage", "local", "--mode", "operator"}, "names a serviceAccountName"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRun(append([]string{"--repository", "r.io/x", dir}, tt.args...), env(nil), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one line")
			var ce *Error
			assert.ErrorAs(t, err, &ce)
		})
	}
}
