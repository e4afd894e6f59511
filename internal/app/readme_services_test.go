package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// TestREADMEServiceExampleIsTheTestedOne: the pod template docs/environments.md
// shows for services is the one the e2e tests run (testdata/services), but for the
// service's image.
func TestREADMEServiceExampleIsTheTestedOne(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "environments.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(b), "\n## Services beside the test\n")
	require.True(t, ok, "docs/environments.md has a section on services")
	_, block, ok := strings.Cut(section, "```yaml\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	shown, err := k8s.ParseTemplate([]byte(block))
	require.NoError(t, err)

	b, err = os.ReadFile(filepath.Join("..", "..", "testdata", "services", "pod-template.yaml"))
	require.NoError(t, err)
	tested, err := k8s.ParseTemplate([]byte(strings.ReplaceAll(string(b), "BASE_IMAGE", "python:3.12-slim")))
	require.NoError(t, err)
	assert.Equal(t, tested, shown)
}
