//go:build e2eaction

package action

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImageBuilt checks what `docker build` of the Dockerfile made: the
// entrypoint the runner starts, with the Python and pip that build the
// dependency layer.
func TestImageBuilt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := docker(ctx, nil, "image", "inspect", "-f", "{{json .Config.Entrypoint}}", actionImage)
	require.NoError(t, err)
	assert.Equal(t, `["/usr/local/bin/k8s-testrun"]`, strings.TrimSpace(string(out)))
	out, err = docker(ctx, nil, "run", "--rm", "--entrypoint", "python3", actionImage, "-m", "pip", "--version")
	require.NoError(t, err)
	assert.Contains(t, string(out), "pip ")
	out, err = docker(ctx, nil, "run", "--rm", actionImage, "--version")
	require.NoError(t, err, "the binary starts")
	assert.NotEmpty(t, strings.TrimSpace(string(out)))
	out, err = docker(ctx, nil, "run", "--rm", "--entrypoint", "/usr/local/bin/k8s-testrun-pod", actionImage, "--help")
	require.NoError(t, err, "the pod binary, beside the CLI, starts: %s", out)
	assert.Contains(t, string(out), "shim")
}
