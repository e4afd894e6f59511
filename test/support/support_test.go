package support

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

func TestGitHubAPIRecordsAndAnswers(t *testing.T) {
	api := NewGitHubAPI(t, "127.0.0.1", false)
	req, err := http.NewRequest(http.MethodPost, api.URL+"/repos/o/r/check-runs", strings.NewReader(`{"head_sha": "`+HeadSHA+`"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, err = http.Get(api.URL + "/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	got := api.Got()
	require.Len(t, got, 2)
	assert.Equal(t, APIRequest{Method: "POST", Path: "/repos/o/r/check-runs", Auth: "Bearer t",
		Body: map[string]any{"head_sha": HeadSHA}, Raw: `{"head_sha": "` + HeadSHA + `"}`}, got[0])
	assert.Equal(t, "GET", got[1].Method)
	assert.Nil(t, got[1].Body)
}

func TestGitHubAPIRefuses(t *testing.T) {
	api := NewGitHubAPI(t, "127.0.0.1", true)
	resp, err := http.Post(api.URL+"/repos/o/r/check-runs", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Len(t, api.Got(), 1)
}

func TestReadOutputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "output")
	require.NoError(t, os.WriteFile(path, []byte("a<<EOF1\none\nEOF1\nb<<ghadelimiter_x\ntwo\nlines\nghadelimiter_x\n"), 0o644))
	assert.Equal(t, map[string]string{"a": "one", "b": "two\nlines"}, ReadOutputs(t, path))
}

// recordingT records the failures of a test that is meant to fail.
type recordingT struct {
	testing.TB
	errors []string
}

func (r *recordingT) Helper() {}

func (r *recordingT) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestRequireNoRunPods(t *testing.T) {
	ours := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "left", Namespace: "ns", Labels: map[string]string{k8s.LabelManagedBy: k8s.ManagedBy}}}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: "ns"}}

	rt := &recordingT{TB: t}
	RequireNoRunPods(rt, fake.NewClientset(other), "ns")
	assert.Empty(t, rt.errors, "a pod k8s-testrun did not create is not its to clean up")

	client := fake.NewClientset(ours, other)
	_, err := client.CoreV1().Pods("ns").Get(context.Background(), "left", metav1.GetOptions{})
	require.NoError(t, err)
	rt = &recordingT{TB: t}
	RequireNoRunPods(rt, client, "ns")
	require.Len(t, rt.errors, 1)
	assert.Contains(t, rt.errors[0], "left")
	assert.Contains(t, rt.errors[0], "pods left behind in ns")
}
