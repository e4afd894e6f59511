package build

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImports keeps the package independent of Kubernetes and of the rest
// of the program, apart from the shared image layout and libfaketime's
// conventions (a leaf package).
func TestImports(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, pkg := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/"), "imports %s", pkg)
		if rest, ok := strings.CutPrefix(pkg, "github.com/k8s-testrun/k8s-testrun/"); ok {
			assert.Contains(t, []string{"internal/build", "internal/layout", "internal/faketime"}, rest, "imports %s", pkg)
		}
	}
}
