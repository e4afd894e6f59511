package app

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInstallPushesTheOperatorImage: install --repository pushes an image
// of this k8s-testrun and puts it in the Deployment; the pull registry
// renames it as the nodes reach it.
func TestInstallPushesTheOperatorImage(t *testing.T) {
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	env, stdout, stderr := testEnv(nil)
	code := Run(context.Background(), []string{"install", "--print", "--repository", u.Host + "/k8s-testrun/operator", "--pull-registry", "kind-registry:5000"}, env)
	require.Equal(t, ExitOK, code, stderr.String())
	m := regexp.MustCompile(`the operator's image: (kind-registry:5000/k8s-testrun/operator@sha256:[0-9a-f]{64}) \(\d+ bytes uploaded\)\n`).FindStringSubmatch(stderr.String())
	require.NotNil(t, m, stderr.String())
	assert.Contains(t, stdout.String(), "image: "+m[1]+"\n")

	for _, args := range [][]string{
		{"install", "--print", "--repository", u.Host + "/x", "--image", "i@sha256:abc"},
		{"install", "--print"},
	} {
		var out, errOut bytes.Buffer
		env.Stdout, env.Stderr = &out, &errOut
		assert.Equal(t, ExitInfra, Run(context.Background(), args, env))
		assert.Regexp(t, `^k8s-testrun: install: .*(not both|--repository REPO)`, errOut.String())
	}
}
