package shim

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

func TestParseService(t *testing.T) {
	s, err := ParseService("db=tcp:127.0.0.1:5432")
	require.NoError(t, err)
	assert.Equal(t, Service{Name: "db", Kind: "tcp", Target: "127.0.0.1:5432"}, s)
	s, err = ParseService("web=http://127.0.0.1:8000/healthz?x=1")
	require.NoError(t, err)
	assert.Equal(t, Service{Name: "web", Kind: "http", Target: "http://127.0.0.1:8000/healthz?x=1"}, s)
	for _, bad := range []string{"", "db", "=tcp:1.2.3.4:5", "db=", "db=tcp:nohost", "db=exec:true", "db=ftp://x"} {
		_, err := ParseService(bad)
		assert.Error(t, err, bad)
	}
}

// freePort is a port nothing listens on, as a service still starting.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestWaitForServicesWaitsUntilTheyAnswer(t *testing.T) {
	addr := freePort(t)
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	go func() {
		time.Sleep(600 * time.Millisecond)
		ready.Store(true)
		l, err := net.Listen("tcp", addr)
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
	}()
	start := time.Now()
	err := WaitForServices(context.Background(), []Service{{Name: "web", Kind: "http", Target: srv.URL}, {Name: "db", Kind: "tcp", Target: addr}}, 10*time.Second)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 600*time.Millisecond, "it waited for both")
}

func TestWaitForServicesTimesOut(t *testing.T) {
	addr := freePort(t)
	start := time.Now()
	err := WaitForServices(context.Background(), []Service{{Name: "db", Kind: "tcp", Target: addr}}, 700*time.Millisecond)
	var nr *NotReadyError
	require.ErrorAs(t, err, &nr)
	assert.Equal(t, "db", nr.Service.Name)
	assert.Contains(t, err.Error(), `service "db" not ready within 700ms: tcp `+addr)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestRunDoesNotStartTheTestWithoutItsServices(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	var stderr bytes.Buffer
	code, err := Run(context.Background(), []string{"sh", "-c", "touch " + marker}, dir, &bytes.Buffer{}, &stderr, Options{
		Services:       []Service{{Name: "db", Kind: "tcp", Target: freePort(t)}},
		ServiceTimeout: 500 * time.Millisecond,
	})
	require.NoError(t, err)
	assert.Equal(t, layout.ExitServiceNotReady, code)
	assertFinished(t, dir, layout.ExitServiceNotReady)
	assert.NoFileExists(t, marker, "the test never started")
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], layout.ServiceNotReadyPrefix+`service "db" not ready within 500ms`), stderr.String())
	assert.Contains(t, readFile(t, dir, layout.OutputFile), layout.ServiceNotReadyPrefix, "the reason is in the test's output too")
}

func TestRunStartsTheTestOnceServicesAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	code, err := Run(context.Background(), []string{"sh", "-c", "exit 1"}, dir, &bytes.Buffer{}, &bytes.Buffer{}, Options{
		Services: []Service{{Name: "web", Kind: "http", Target: srv.URL}},
	})
	require.NoError(t, err)
	assert.Equal(t, 1, code, "the test's own exit code")
	assertFinished(t, dir, 1)
}

func TestRunStopsWaitingOnASignal(t *testing.T) {
	dir := t.TempDir()
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	start := time.Now()
	code, err := Run(context.Background(), []string{"true"}, dir, &bytes.Buffer{}, &bytes.Buffer{}, Options{
		Services:       []Service{{Name: "db", Kind: "tcp", Target: freePort(t)}},
		ServiceTimeout: time.Minute,
		Signals:        sigs,
	})
	require.NoError(t, err)
	assert.Equal(t, 128+int(syscall.SIGTERM), code)
	assertFinished(t, dir, 128+int(syscall.SIGTERM))
	assert.Less(t, time.Since(start), 10*time.Second)
}
