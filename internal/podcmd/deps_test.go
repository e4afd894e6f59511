package podcmd

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heavy are the modules the pod binary must not link: each is megabytes
// that every node would pull, and all of them talk to something a test pod
// has no business with (the API server, a registry, GitHub).
var heavy = []string{
	"k8s.io/client-go",
	"k8s.io/apimachinery",
	"k8s.io/api/",
	"k8s.io/apiserver",
	"sigs.k8s.io/controller-runtime",
	"sigs.k8s.io/kustomize",
	"github.com/google/go-containerregistry",
	"github.com/google/go-github",
}

// TestPodBinaryDependencies lists what cmd/k8s-testrun-pod links, as the
// Go tool computes it for a static linux build.
func TestPodBinaryDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	cmd := exec.Command("go", "list", "-deps", "github.com/k8s-testrun/k8s-testrun/cmd/k8s-testrun-pod")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	require.NoError(t, err, "go list -deps")
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/k8s-testrun/k8s-testrun/internal/shim", "the list is the pod binary's")
	var linked []string
	for _, d := range deps {
		for _, h := range heavy {
			if strings.HasPrefix(d, h) {
				linked = append(linked, d)
			}
		}
	}
	assert.Empty(t, linked, "the pod binary must link none of %v", heavy)
}
