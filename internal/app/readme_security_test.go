package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// TestREADMESecuritySection: the trust boundary of docs/security.md (the
// README's section before the docs/ pages) says what runs where and with
// which secrets, and its figures are the code's.
func TestREADMESecuritySection(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	require.NoError(t, err)
	text := string(b)
	start := strings.Index(text, "\n## The trust boundary\n")
	require.GreaterOrEqual(t, start, 0, "docs/security.md has a trust boundary section")
	section := text[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	for _, want := range []string{
		"| where | runs | identity | holds |",
		"the GitHub token, the kubeconfig",
		strings.Join(build.DefaultPip[:2], " "),
		"uid 65534 when k8s-testrun runs as root",
		fmt.Sprintf("(%s files, %d MiB)", thousands(transport.MaxArtifactFiles), transport.MaxArtifactBytes>>20),
		"a test can forge its neighbours' results",
		"`baseline` Pod Security Standard",
	} {
		assert.Contains(t, section, want)
	}
}

// thousands writes n with a comma between thousands, as the docs do.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
