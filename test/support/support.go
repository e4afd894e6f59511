// Package support holds the helpers the end-to-end suites share: the
// direct ones of test/e2e and the action run as GitHub runs it of
// test/action. It talks to no cluster and reads no environment of its own.
package support

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// The commits of the pull request the suites' events describe: its head,
// where check runs go, and the merge commit a workflow checks out.
const (
	HeadSHA  = "4f1e0cafe0000000000000000000000000000001"
	MergeSHA = "9a9a9a9a00000000000000000000000000000002"
)

// GitHubAPI is a fake of the GitHub API that records the requests it gets
// and answers the Checks API's.
type GitHubAPI struct {
	// URL is where it listens: http://HOST:PORT.
	URL      string
	refuse   bool
	mu       sync.Mutex
	requests []APIRequest
}

// APIRequest is one request a GitHubAPI got.
type APIRequest struct {
	Method, Path, Auth string
	// Body is the JSON body decoded, nil when it is not JSON.
	Body map[string]any
	// Raw is the body as sent.
	Raw string
}

// maxBody bounds what is kept of one request's body.
const maxBody = 8 << 20

// NewGitHubAPI starts a GitHubAPI on a free port of host (an address of
// this machine: 127.0.0.1, or a Docker network's gateway for a container),
// stopped when the test ends. With refuse, it answers every request 403 as
// GitHub does for a fork's token.
func NewGitHubAPI(t testing.TB, host string, refuse bool) *GitHubAPI {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	api := &GitHubAPI{URL: "http://" + l.Addr().String(), refuse: refuse}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return api
}

func (a *GitHubAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	req := APIRequest{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Raw: string(b)}
	_ = json.Unmarshal(b, &req.Body)
	a.mu.Lock()
	a.requests = append(a.requests, req)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case a.refuse:
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/checks/runs#create-a-check-run"}`)
	case r.Method == http.MethodPost:
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id": 7, "html_url": "https://github.example/o/r/runs/7"}`)
	default:
		_, _ = io.WriteString(w, `{"id": 7, "html_url": "https://github.example/o/r/runs/7"}`)
	}
}

// Got returns the requests so far, in order.
func (a *GitHubAPI) Got() []APIRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]APIRequest(nil), a.requests...)
}

// ReadOutputs parses GITHUB_OUTPUT's name<<DELIMITER blocks.
func ReadOutputs(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// RequireNoRunPods fails the test if any pod k8s-testrun created remains in
// namespace.
func RequireNoRunPods(t testing.TB, client kubernetes.Interface, namespace string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: k8s.LabelManagedBy + "=" + k8s.ManagedBy})
	require.NoError(t, err)
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	assert.Empty(t, names, "pods left behind in %s", namespace)
}

// RepoRoot is the repository's top directory, wherever the test runs from.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
