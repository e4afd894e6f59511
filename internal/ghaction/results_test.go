package ghaction

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/github"
)

func TestAnnotationsAtTheFailingLine(t *testing.T) {
	anns := Annotations(Tests(sampleReport(), "pkg"))
	require.Len(t, anns, 2, "one per failed or errored test that ran")
	assert.Equal(t, github.Annotation{
		Path: "pkg/tests/test_basic.py", StartLine: 10, Level: github.LevelFailure,
		Title: "FAILED tests/test_basic.py::test_fails", Message: "AssertionError: expected three apples\nassert 1 == 3",
		Details: "def test_fails():\n>  assert value == 3\nE  AssertionError\n\ntests/test_basic.py:10: AssertionError",
	}, anns[0])
	assert.Equal(t, "pkg/tests/test_fixtures.py", anns[1].Path)
	assert.Equal(t, 6, anns[1].StartLine, "the fixture's line, where the error is")
	assert.Equal(t, "ERROR tests/test_fixtures.py::test_broken", anns[1].Title)
}

func TestFailingLine(t *testing.T) {
	tests := []struct {
		name, text, file string
		want             int
	}{
		{"last match wins", "tests/a.py:3: in helper\n    x\ntests/a.py:12: AssertionError", "tests/a.py", 12},
		{"another file's line is not the test's", "lib/util.py:40: ValueError", "tests/a.py", 0},
		{"no location", "AssertionError", "tests/a.py", 0},
		{"no file", "tests/a.py:3: E", "", 0},
		{"a prefix of another name", "tests/a.py.bak:3: E", "tests/a.py", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, failingLine(tt.text, tt.file))
		})
	}
}

func TestStepOutputs(t *testing.T) {
	outs := StepOutputs(sampleReport(), "k8s-testrun-junit.xml", "img@sha256:abc", "https://x/runs/7")
	got := map[string]string{}
	for _, o := range outs {
		got[o.Name] = o.Value
	}
	assert.Equal(t, map[string]string{
		"total": "6", "passed": "2", "failed": "1", "errors": "1", "skipped": "1", "flaky": "1",
		"duration": "23.0", "junit_path": "k8s-testrun-junit.xml", "image": "img@sha256:abc", "check_url": "https://x/runs/7",
		"attempts": "attempts.json", "coverage": "", "coverage_xml": "", "matrix": "",
	}, got)
	for _, o := range StepOutputs(sampleReport(), "out/junit.xml", "", "") {
		if o.Name == "attempts" {
			assert.Equal(t, "out/attempts.json", o.Value, "beside the JUnit report")
		}
	}
	for _, o := range StepOutputs(nil, "out/junit.xml", "", "") {
		if o.Name == "attempts" {
			assert.Empty(t, o.Value, "no report, no attempts file")
		}
	}
}

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://10.0.0.1:6443"}
users:
- name: token
  user: {token: "tok-abcdef123456"}
- name: basic
  user: {username: admin, password: "pa55word!"}
- name: cert
  user:
    client-certificate-data: Y2VydA==
    client-key-data: %s
- name: oidc
  user:
    auth-provider:
      name: oidc
      config: {client-id: my-app, client-secret: "s3cret-value", id-token: "eyJid", idp-issuer-url: "https://issuer"}
- name: exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws
      env: [{name: AWS_SECRET_ACCESS_KEY, value: "aws-secret-xyz"}]
contexts:
- name: c
  context: {cluster: c, user: token}
current-context: c
`

func TestKubeconfigSecrets(t *testing.T) {
	key := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIPtIQNM7\n-----END EC PRIVATE KEY-----\n"
	b64 := base64.StdEncoding.EncodeToString([]byte(key))
	data := []byte(fmtKubeconfig(b64))
	got := KubeconfigSecrets(data, "")
	assert.ElementsMatch(t, []string{"tok-abcdef123456", "pa55word!", key, b64, "s3cret-value", "eyJid", "aws-secret-xyz"}, got)
	for _, public := range []string{"admin", "my-app", "https://issuer", "https://10.0.0.1:6443", "Y2VydA=="} {
		assert.NotContains(t, got, public, "not a secret")
	}

	path := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	files := KubeconfigFiles(path + string(filepath.ListSeparator) + filepath.Join(t.TempDir(), "missing"))
	require.Len(t, files, 1)
	assert.Equal(t, data, files[0])

	assert.Equal(t, []string{"not: [yaml"}, KubeconfigSecrets([]byte("not: [yaml"), ""), "unparsable contents are a secret whole")
	assert.Empty(t, KubeconfigSecrets([]byte(" \n"), ""))
}

func fmtKubeconfig(keyData string) string {
	return replaceOnce(kubeconfig, "%s", keyData)
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

func TestReadContext(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	base := map[string]string{
		"GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "merge", "GITHUB_RUN_ID": "99",
		"GITHUB_SERVER_URL": "https://github.example", "GITHUB_API_URL": "https://api.github.example",
	}
	tests := []struct {
		name      string
		event     string
		wantSHA   string
		wantFork  bool
		eventName string
	}{
		{"push", `{"after": "merge"}`, "merge", false, "push"},
		{"pull request", `{"pull_request": {"head": {"sha": "head", "repo": {"full_name": "o/r"}}, "base": {"repo": {"full_name": "o/r"}}}}`, "head", false, "pull_request"},
		{"fork", `{"pull_request": {"head": {"sha": "head", "repo": {"full_name": "someone/r"}}, "base": {"repo": {"full_name": "o/r"}}}}`, "head", true, "pull_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"GITHUB_EVENT_PATH": write(tt.name+".json", tt.event), "GITHUB_EVENT_NAME": tt.eventName}
			for k, v := range base {
				vars[k] = v
			}
			c, err := ReadContext(env(vars))
			require.NoError(t, err)
			assert.Equal(t, tt.wantSHA, c.HeadSHA)
			assert.Equal(t, tt.wantFork, c.Fork)
			assert.Equal(t, "o/r", c.Repository)
			assert.Equal(t, "https://api.github.example", c.APIURL)
			assert.Equal(t, "https://github.example/o/r/actions/runs/99", c.RunURL)
			assert.Equal(t, "https://github.example/o/r/blob/"+tt.wantSHA+"/a/b.py#L3", c.BlobURL("a/b.py", 3))
		})
	}
}
