package ghaction

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

// workspace is a checkout with a project under sub/project.
func workspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(ws, "sub", "project", "tests"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ws, "sub", "project", "reqs.txt"), []byte("pytest\n"), 0o644))
	return ws
}

// runnerEnv sets the inputs as the runner does: every input of action.yml,
// with its default unless given.
func runnerEnv(ws string, inputs map[string]string) func(string) string {
	vars := map[string]string{"GITHUB_WORKSPACE": ws}
	for _, in := range Inputs {
		v := in.Default
		if in.Name == InputToken {
			v = "ghs_token"
		}
		if given, ok := inputs[in.Name]; ok {
			v = given
		}
		vars["INPUT_"+upper(in.Name)] = v
	}
	for k, v := range inputs {
		if len(k) > 0 && k[0] >= 'A' && k[0] <= 'Z' {
			vars[k] = v
		}
	}
	return env(vars)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestReadDefaults(t *testing.T) {
	ws := workspace(t)
	cfg, s, err := Read(runnerEnv(ws, map[string]string{InputRepository: "localhost:5001/tests"}))
	require.NoError(t, err)
	assert.Equal(t, ws, cfg.ProjectDir)
	assert.Equal(t, []string{config.DefaultBaseImage}, cfg.BaseImages)
	assert.Equal(t, "localhost:5001/tests", cfg.Repository)
	assert.Equal(t, config.DefaultParallelism, cfg.Parallelism)
	assert.Equal(t, config.DefaultTimeout, cfg.Timeout, "action.yml's 10m is the CLI's default")
	assert.Equal(t, 0, cfg.Retries)
	assert.Empty(t, cfg.Selection)
	assert.Equal(t, filepath.Join(ws, config.DefaultJUnitPath), cfg.JUnitPath)
	assert.Equal(t, config.DefaultPlatform, cfg.Platform)
	assert.Equal(t, config.SidecarAuto, cfg.Sidecar)
	assert.Nil(t, cfg.KubeconfigData)
	assert.Nil(t, cfg.PodTemplate)

	assert.Equal(t, "ghs_token", s.Token)
	assert.Equal(t, "k8s-testrun", s.CheckName)
	assert.Equal(t, FailOnFailures, s.FailOn)
	assert.Equal(t, "", s.ProjectPrefix)
	assert.Equal(t, config.DefaultJUnitPath, s.JUnitPath)
}

func TestReadInputs(t *testing.T) {
	ws := workspace(t)
	kubeconfig := validKubeconfig
	tmpl := "spec:\n  nodeSelector:\n    pool: tests\n"
	cfg, s, err := Read(runnerEnv(ws, map[string]string{
		InputProjectPath: "sub/project", InputRequirements: "reqs.txt", InputBaseImage: "localhost:5001/py:3.12",
		InputKubeconfig: kubeconfig, InputNamespace: "ci", InputParallelism: "8", InputTimeout: "90",
		InputRetries: "2", InputInfraRetries: "5", InputPytestArgs: `tests/unit -m 'not slow' -k "a and b" x\ y`,
		InputCheckName: "unit tests", InputFailOn: "never", InputJUnitPath: "out/junit.xml", InputPodTemplate: tmpl,
		"K8S_TESTRUN_REGISTRY": "localhost:5001", "RUNNER_DEBUG": "1",
	}))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(ws, "sub", "project"), cfg.ProjectDir)
	assert.Equal(t, "reqs.txt", cfg.Requirements)
	assert.Equal(t, []string{"localhost:5001/py:3.12"}, cfg.BaseImages)
	assert.Equal(t, "localhost:5001/k8s-testrun/project", cfg.Repository, "derived from the registry variable")
	assert.Equal(t, []byte(kubeconfig), cfg.KubeconfigData)
	assert.Equal(t, "ci", cfg.Namespace)
	assert.Equal(t, 8, cfg.Parallelism)
	assert.Equal(t, 90*time.Second, cfg.Timeout, "a bare number is seconds")
	assert.Equal(t, 2, cfg.Retries)
	assert.Equal(t, 5, cfg.InfraRetries)
	assert.Equal(t, []string{"tests/unit", "-m", "not slow", "-k", "a and b", "x y"}, cfg.Selection)
	assert.Equal(t, filepath.Join(ws, "out", "junit.xml"), cfg.JUnitPath)
	assert.Equal(t, []byte(tmpl), cfg.PodTemplate)
	assert.True(t, cfg.Verbose)
	assert.Equal(t, "unit tests", s.CheckName)
	assert.Equal(t, FailOnNever, s.FailOn)
	assert.Equal(t, "sub/project", s.ProjectPrefix)
	assert.Equal(t, "out/junit.xml", s.JUnitPath)
}

func TestReadKubeconfigPath(t *testing.T) {
	ws := workspace(t)
	require.NoError(t, os.MkdirAll(filepath.Join(ws, "kind"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ws, "kind", "kubeconfig"), []byte(validKubeconfig), 0o600))
	cfg, _, err := Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x", "KUBECONFIG": "kind/kubeconfig"}))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(ws, "kind", "kubeconfig"), cfg.Kubeconfig, "relative to the workspace")
	assert.Nil(t, cfg.KubeconfigData)
}

// TestReadReportsEveryBadInput: all problems at once, each naming the
// input as action.yml does.
func TestReadReportsEveryBadInput(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]string
		want   map[string]string // input -> part of the fix
	}{
		{
			name:   "numbers and choices",
			inputs: map[string]string{InputRepository: "r.example/x", InputParallelism: "four", InputRetries: "-1", InputTimeout: "soon", InputFailOn: "sometimes"},
			want:   map[string]string{InputParallelism: "whole number", InputRetries: "0 or more", InputTimeout: "duration", InputFailOn: "failures, errors, new-failures or never"},
		},
		{
			name:   "missing project, bad repository and pull registry",
			inputs: map[string]string{InputProjectPath: "nowhere", InputRepository: "r.example/x@sha256:abc", InputPullRegistry: "https://r.example"},
			want:   map[string]string{InputProjectPath: "does not exist", InputRepository: "without tag or digest", InputPullRegistry: "host[:port]"},
		},
		{
			name:   "bad grouping",
			inputs: map[string]string{InputRepository: "r.example/x", InputPodPer: "module", InputShards: "many"},
			want:   map[string]string{InputPodPer: "test, class, file or auto", InputShards: "whole number"},
		},
		{
			name:   "infra retries not a number",
			inputs: map[string]string{InputRepository: "r.example/x", InputInfraRetries: "two"},
			want:   map[string]string{InputInfraRetries: "not a whole number"},
		},
		{
			name:   "negative infra retries",
			inputs: map[string]string{InputRepository: "r.example/x", InputInfraRetries: "-1"},
			want:   map[string]string{InputInfraRetries: "0 or more"},
		},
		{
			name:   "negative shards",
			inputs: map[string]string{InputRepository: "r.example/x", InputShards: "-2"},
			want:   map[string]string{InputShards: "0 (off) or more"},
		},
		{
			name:   "malformed faketime",
			inputs: map[string]string{InputRepository: "r.example/x", InputFaketime: "next tuesday"},
			want:   map[string]string{InputFaketime: "YYYY-MM-DD hh:mm:ss"},
		},
		{
			name:   "unknown mode",
			inputs: map[string]string{InputRepository: "r.example/x", InputMode: "sideways"},
			want:   map[string]string{InputMode: "direct or operator"},
		},
		{
			name:   "unbalanced quote and missing requirements",
			inputs: map[string]string{InputRepository: "r.example/x", InputPytestArgs: `-k "a`, InputRequirements: "nope.txt", InputParallelism: "0"},
			want:   map[string]string{InputPytestArgs: "unclosed", InputRequirements: "not found", InputParallelism: "1 or more"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Read(runnerEnv(workspace(t), tt.inputs))
			require.Error(t, err)
			got := map[string]string{}
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *config.Error
				require.True(t, errors.As(e, &ce), "%v is a *config.Error", e)
				assert.NotContains(t, got, ce.Input, "one error per input")
				got[ce.Input] = ce.Error()
			}
			require.Len(t, got, len(tt.want), "%v", got)
			for input, fix := range tt.want {
				assert.Contains(t, got[input], fix, input)
			}
		})
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{"  tests  ", []string{"tests"}, ""},
		{`-k 'a or b'`, []string{"-k", "a or b"}, ""},
		{`-m "not \"slow\""`, []string{"-m", `not "slow"`}, ""},
		{`a\ b ''`, []string{"a b", ""}, ""},
		{"a\nb\tc", []string{"a", "b", "c"}, ""},
		{`'$HOME' "$(rm -rf)"`, []string{"$HOME", "$(rm -rf)"}, ""},
		{`'open`, nil, "unclosed ' quote"},
		{`end\`, nil, "lone backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := splitArgs(tt.in)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadMode(t *testing.T) {
	for mode, want := range map[string]string{"": config.ModeDirect, "operator": config.ModeOperator, "direct": config.ModeDirect} {
		c, _, err := Read(runnerEnv(workspace(t), map[string]string{InputRepository: "r.example/x", InputMode: mode}))
		require.NoError(t, err, mode)
		assert.Equal(t, want, c.Mode, mode)
	}
}

func TestReadGrouping(t *testing.T) {
	ws := workspace(t)
	c, _, err := Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x", InputPodPer: "file", InputShards: "3", InputDurationsFile: ".cache/durations.json"}))
	require.NoError(t, err)
	assert.Equal(t, "file", c.PodPer)
	assert.Equal(t, 3, c.Shards)
	assert.Equal(t, filepath.Join(ws, ".cache/durations.json"), c.DurationsFile, "relative to the workspace")
	c, _, err = Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x"}))
	require.NoError(t, err)
	assert.Equal(t, "test", c.PodPer, "one pod per test by default")
	assert.Zero(t, c.Shards)
	assert.Empty(t, c.DurationsFile)
	c, _, err = Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x", InputPodPer: "auto"}))
	require.NoError(t, err)
	assert.Equal(t, "auto", c.PodPer, "auto is an input value")
}

func TestReadFaketime(t *testing.T) {
	c, _, err := Read(runnerEnv(workspace(t), map[string]string{InputRepository: "r.example/x", InputFaketime: "@2031-06-01 12:00:00"}))
	require.NoError(t, err)
	assert.Equal(t, "@2031-06-01 12:00:00", c.Faketime)
	c, _, err = Read(runnerEnv(workspace(t), map[string]string{InputRepository: "r.example/x"}))
	require.NoError(t, err)
	assert.Empty(t, c.Faketime)
}

func TestSplitBaseImages(t *testing.T) {
	assert.Equal(t, []string{"py:3.11", "py:3.13"}, splitBaseImages("py:3.11\n\n  py:3.13 \n"))
	assert.Equal(t, []string{"py:3.12"}, splitBaseImages("py:3.12"))
	assert.Equal(t, []string{""}, splitBaseImages(" \n"), "an empty input stays one empty image, which validation names")
}
