package ghaction

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

const validKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: "kube-token-123456"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`

// TestReadMalformedKubeconfigAndTemplate: contents that cannot work are
// input errors, named as the action spells them, never as CLI flags.
func TestReadMalformedKubeconfigAndTemplate(t *testing.T) {
	tests := []struct {
		name      string
		inputs    map[string]string
		file      string // written to the workspace as kc.yaml when set
		wantInput string
		want      string
	}{
		{name: "kubeconfig not YAML", inputs: map[string]string{InputKubeconfig: "{{{ not yaml"},
			wantInput: InputKubeconfig, want: "kubeconfig: is not a kubeconfig: "},
		{name: "kubeconfig a list", inputs: map[string]string{InputKubeconfig: "- a\n- b"},
			wantInput: InputKubeconfig, want: "is not a kubeconfig"},
		{name: "kubeconfig without a cluster", inputs: map[string]string{InputKubeconfig: "apiVersion: v1\nkind: Config\n"},
			wantInput: InputKubeconfig, want: "kubeconfig: cannot be used: it configures no cluster"},
		{name: "kubeconfig context naming nothing", inputs: map[string]string{InputKubeconfig: "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"},
			wantInput: InputKubeconfig, want: "kubeconfig: cannot be used: "},
		{name: "KUBECONFIG file missing", inputs: map[string]string{"KUBECONFIG": "nope/kubeconfig"},
			wantInput: EnvKubeconfig, want: "is not a readable kubeconfig"},
		{name: "KUBECONFIG file malformed", inputs: map[string]string{"KUBECONFIG": "kc.yaml"}, file: "clusters: [oops",
			wantInput: EnvKubeconfig, want: "is not a readable kubeconfig"},
		{name: "pod_template not YAML", inputs: map[string]string{InputPodTemplate: "spec: [unclosed"},
			wantInput: InputPodTemplate, want: "pod_template: is not a pod template: "},
		{name: "pod_template unknown field", inputs: map[string]string{InputPodTemplate: "spec:\n  nodeSelektor: {a: b}\n"},
			wantInput: InputPodTemplate, want: `unknown field "nodeSelektor" (give a PodTemplateSpec`},
		{name: "pod_template a scalar", inputs: map[string]string{InputPodTemplate: "just words"},
			wantInput: InputPodTemplate, want: "is not a pod template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := workspace(t)
			if tt.file != "" {
				require.NoError(t, os.WriteFile(filepath.Join(ws, "kc.yaml"), []byte(tt.file), 0o600))
			}
			inputs := map[string]string{InputRepository: "r.example/x", InputKubeconfig: validKubeconfig}
			if _, ok := tt.inputs["KUBECONFIG"]; ok {
				inputs[InputKubeconfig] = ""
			}
			for k, v := range tt.inputs {
				inputs[k] = v
			}
			_, _, err := Read(runnerEnv(ws, inputs))
			require.Error(t, err)
			var ce *config.Error
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, tt.wantInput, ce.Input)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "--kubeconfig")
			assert.NotContains(t, err.Error(), "--pod-template")
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestKubeconfigSecretsExecArgsAndFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("file-token-7890\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "client.key"), []byte("KEYFILEDATA"), 0o600))
	data := []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users:
- name: u
  user:
    tokenFile: token
    client-key: client.key
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: get-token
      args: ["--token=arg-secret-1", "Zq8r3KP0vX2mN7aT5"]
`)
	got := KubeconfigSecrets(data, dir)
	assert.ElementsMatch(t, []string{"file-token-7890\n", "KEYFILEDATA", "--token=arg-secret-1", "arg-secret-1", "Zq8r3KP0vX2mN7aT5"}, got)

	path := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	assert.ElementsMatch(t, got, KubeconfigFileSecrets(path), "relative names resolved from the file's directory")
}

// TestKubeconfigSecretsUnparsable: whatever the contents, a token in them
// is masked.
func TestKubeconfigSecretsUnparsable(t *testing.T) {
	for _, data := range []string{
		"users: [{name: u, user: {token: tok-abcdef123456}}\n", // unclosed
		"\tusers:\n  - token: tok-abcdef123456",                // tab indentation
		"tok-abcdef123456",                                     // a bare token
	} {
		got := KubeconfigSecrets([]byte(data), "")
		require.NotEmpty(t, got, data)
		masked := false
		for _, s := range got {
			for _, v := range maskValues(s) {
				masked = masked || v == data || v == "tok-abcdef123456"
			}
		}
		assert.True(t, masked, "%q", data)
	}
}

// TestExecSecretsAreNotWords: of an exec plugin's arguments and
// environment, only secrets are masked: values named as secrets or shaped
// like tokens, never a plugin's words, regions, names or anything shorter
// than minSecret.
func TestExecSecretsAreNotWords(t *testing.T) {
	data := []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws
      args: ["--region", "us-east-1", "eks", "get-token", "--cluster-name", "prod-cluster-2024-east", "--output", "json",
        "-v", "1", "--client-secret", "kubelogin-client-s3cret", "--password=hunter2-long", "--api-key", "short",
        "AbCdEf0123456789XyZ", "/home/Runner2/.kube/tokenFileName1"]
      env:
      - {name: AWS_PROFILE, value: default}
      - {name: AWS_REGION, value: eu-west-1}
      - {name: AWS_SECRET_ACCESS_KEY, value: wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY}
      - {name: SOME_VAR, value: 0123456789abcdef0123456789abcdef}
`)
	got := KubeconfigSecrets(data, "")
	for _, secret := range []string{"kubelogin-client-s3cret", "hunter2-long", "AbCdEf0123456789XyZ",
		"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "0123456789abcdef0123456789abcdef"} {
		assert.Contains(t, got, secret)
	}
	for _, word := range []string{"--region", "us-east-1", "eks", "get-token", "--cluster-name", "prod-cluster-2024-east", "--output",
		"json", "-v", "1", "--client-secret", "--api-key", "short", "/home/Runner2/.kube/tokenFileName1", "default", "eu-west-1", "aws"} {
		assert.NotContains(t, got, word)
	}
	for _, s := range got {
		assert.GreaterOrEqual(t, len(s), minSecret, "%q", s)
	}
}
