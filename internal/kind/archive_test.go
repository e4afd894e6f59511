package kind

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// archiveEngine answers /_ping and GET /containers/NAME/archive with a tar
// of files, as the engine does, or with status and a JSON message.
func archiveEngine(t *testing.T, status int, files map[string]string) (socket string, paths *[]string) {
	t.Helper()
	socket = filepath.Join(t.TempDir(), "docker.sock")
	var got []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.47")
			_, _ = io.WriteString(w, "OK")
			return
		}
		got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
		if status != http.StatusOK {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"message":"Could not find the file /var/log/kubernetes/kube-apiserver-audit.log in container kind-control-plane"}`)
			return
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for name, body := range files {
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg}))
			_, _ = tw.Write([]byte(body))
		}
		require.NoError(t, tw.Close())
		w.Header().Set("Content-Type", "application/x-tar")
		_, _ = w.Write(buf.Bytes())
	}))
	ln, err := net.Listen("unix", socket)
	require.NoError(t, err)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return socket, &got
}

func TestDockerReadFile(t *testing.T) {
	socket, got := archiveEngine(t, http.StatusOK, map[string]string{"kube-apiserver-audit.log": "line 1\nline 2\n"})
	rc, err := NewDocker(socket).ReadFile(context.Background(), ControlPlane("kind"), AuditLogPath)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, "line 1\nline 2\n", string(b))
	assert.Equal(t, []string{"/v1.47/containers/kind-control-plane/archive?path=%2Fvar%2Flog%2Fkubernetes%2Fkube-apiserver-audit.log"}, *got)
}

func TestDockerReadFileMissing(t *testing.T) {
	socket, _ := archiveEngine(t, http.StatusNotFound, nil)
	_, err := NewDocker(socket).ReadFile(context.Background(), ControlPlane("kind"), AuditLogPath)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "404")
	assert.Contains(t, err.Error(), "Could not find the file")
}
