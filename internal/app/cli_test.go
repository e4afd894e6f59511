package app

import (
	"context"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			env, stdout, stderr := testEnv(nil)
			require.Equal(t, ExitOK, Run(context.Background(), args, env), stderr.String())
			out := stdout.String()
			assert.True(t, strings.HasPrefix(out, "k8s-testrun "+Version+"\n"), out)
			assert.Contains(t, out, "go:         "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n")
			// A test binary records no dependencies, so client-go's
			// version is checked on versionFrom and in test/e2e.
			assert.Regexp(t, regexp.MustCompile(`(?m)^client-go:  \S+`), out)
			assert.Regexp(t, regexp.MustCompile(`(?m)^commit:     \S+`), out)
			assert.Empty(t, stderr.String())
		})
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	v := versionFrom(&debug.BuildInfo{
		Main: debug.Module{Path: "github.com/k8s-testrun/k8s-testrun", Version: "v0.4.0"},
		Deps: []*debug.Module{
			{Path: "k8s.io/api", Version: "v0.35.4"},
			{Path: "k8s.io/client-go", Version: "v0.35.4"},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}},
	})
	assert.Equal(t, "v0.4.0", v.Version, "the module's version when none was set at build time")
	assert.Equal(t, "0123abcd", v.Commit)
	assert.True(t, v.Modified)
	assert.Equal(t, "v0.35.4", v.ClientGo)
	assert.Contains(t, v.String(), "client-go:  v0.35.4 (Kubernetes 1.35.4)\n")

	replaced := versionFrom(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Deps: []*debug.Module{
		{Path: "k8s.io/client-go", Version: "v0.35.4", Replace: &debug.Module{Path: "../client-go", Version: "v0.36.0-alpha.1"}},
	}})
	assert.Equal(t, Version, replaced.Version, "(devel) is no version")
	assert.Equal(t, "v0.36.0-alpha.1", replaced.ClientGo)
	assert.Equal(t, "1.36.0", kubernetesRelease(replaced.ClientGo))
}

func TestVersionText(t *testing.T) {
	v := buildVersion{Version: "v1.2.3", Commit: "abc123", Modified: true, Go: "go1.26.0", Platform: "linux/amd64", ClientGo: "v0.35.4"}
	assert.Equal(t, "k8s-testrun v1.2.3\ncommit:     abc123 (modified)\ngo:         go1.26.0 linux/amd64\nclient-go:  v0.35.4 (Kubernetes 1.35.4)\n", v.String())
	v = buildVersion{Version: "dev", Go: "go1.26.0", Platform: "linux/arm64"}
	assert.Contains(t, v.String(), "commit:     unknown\n")
	assert.Contains(t, v.String(), "client-go:  unknown\n")
}

func TestRunHelpShowsGroupedGNUFlags(t *testing.T) {
	env, stdout, stderr := testEnv(nil)
	require.Equal(t, ExitOK, Run(context.Background(), []string{"run", "--help"}, env), stderr.String())
	out := stdout.String()
	assert.Contains(t, out, "Usage:\n  k8s-testrun run [flags] [PROJECT_DIR] [-- PYTEST_SELECTION...]")
	assert.Contains(t, out, "Examples:\n  # the sample project")
	for _, want := range []string{"-p, --parallelism int", "-n, --namespace string", "-v, --verbose", "-o, --output string", "--pod-per string", "--shards int", "--durations-file string"} {
		assert.Contains(t, out, want)
	}
	// Groups in their order, each flag in its group.
	var at []int
	for _, g := range []string{"\nImage flags:\n", "\nCluster flags:\n", "\nRunning flags:\n", "\nOutput flags:\n", "\nOther flags:\n"} {
		i := strings.Index(out, g)
		require.GreaterOrEqual(t, i, 0, "group %q in\n%s", g, out)
		at = append(at, i)
	}
	assert.IsIncreasing(t, at)
	section := func(i int) string { return out[at[i]:at[min(i+1, len(at)-1)]] }
	assert.Contains(t, section(0), "--base-image")
	assert.Contains(t, section(1), "--kubeconfig")
	assert.Contains(t, section(2), "--parallelism")
	assert.Contains(t, section(3), "--junit")
	assert.NotContains(t, out, " -parallelism", "no single-dash long flags")
}

func TestRootHelpGroupsCommandsAndHidesRoles(t *testing.T) {
	env, stdout, _ := testEnv(nil)
	require.Equal(t, ExitOK, Run(context.Background(), []string{"--help"}, env))
	out := stdout.String()
	assert.Contains(t, out, "Running tests:\n  action")
	assert.Regexp(t, regexp.MustCompile(`(?m)^  run +Build the test image`), out)
	assert.Contains(t, out, "Cluster:\n  gc")
	assert.Regexp(t, regexp.MustCompile(`(?m)^  completion +`), out)
	assert.Regexp(t, regexp.MustCompile(`(?m)^  version +`), out)
	for _, hidden := range []string{"shim", "sidecar", "operator "} {
		assert.NotRegexp(t, regexp.MustCompile(`(?m)^  `+hidden), out)
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_k8s-testrun",
		"zsh":  "#compdef k8s-testrun",
		"fish": "complete -c k8s-testrun",
	} {
		t.Run(shell, func(t *testing.T) {
			env, stdout, stderr := testEnv(nil)
			require.Equal(t, ExitOK, Run(context.Background(), []string{"completion", shell}, env), stderr.String())
			assert.Contains(t, stdout.String(), want)
		})
	}
	// Flag names complete from the command's own flags.
	env, stdout, _ := testEnv(nil)
	require.Equal(t, ExitOK, Run(context.Background(), []string{"__complete", "run", "--paral"}, env))
	assert.Contains(t, stdout.String(), "--parallelism")
}

// TestBadFlagIsOneLine: a flag the command cannot take is one line naming
// it, what would be valid and the help to read, with exit code 2.
func TestBadFlagIsOneLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--parallelism", "x", "."}, `--parallelism "x": not a whole number, e.g. 4; see 'k8s-testrun run --help'`},
		{[]string{"run", "-p", "many", "."}, `--parallelism "many": not a whole number`},
		{[]string{"run", "--retries=two", "."}, `--retries "two": not a whole number, e.g. 3`},
		{[]string{"run", "--shards", "1.5", "."}, `--shards "1.5": not a whole number`},
		{[]string{"run", "--result-limit", "1MB", "."}, `--result-limit "1MB": not a whole number`},
		{[]string{"run", "--timeout", "5", "."}, `--timeout "5": not a duration, e.g. 90s, 10m or 1h30m; see 'k8s-testrun run --help'`},
		{[]string{"run", "--pending-timeout", "soon", "."}, `--pending-timeout "soon": not a duration`},
		{[]string{"run", "--verbose=maybe", "."}, `--verbose=maybe: give true or false`},
		{[]string{"run", "--paralelism", "3", "."}, `unknown flag --paralelism; see 'k8s-testrun run --help'`},
		{[]string{"run", "-x", "."}, `unknown flag -x; see 'k8s-testrun run --help'`},
		{[]string{"run", ".", "--junit"}, `--junit needs a value (string); see 'k8s-testrun run --help'`},
		{[]string{"run", "-parallelism", "8", "."}, `-parallelism: flags take two dashes: --parallelism; see 'k8s-testrun run --help'`},
		{[]string{"run", "-repository=r.io/x", "."}, `-repository: flags take two dashes: --repository`},
		{[]string{"gc", "--older-than", "1d"}, `--older-than "1d": not a duration, e.g. 90s, 10m or 1h30m; see 'k8s-testrun gc --help'`},
		{[]string{"gc", "extra"}, `unknown command "extra" for "k8s-testrun gc"`},
		{[]string{"install", "--wait", "x"}, `--wait "x": not a duration, e.g. 90s, 10m or 1h30m; see 'k8s-testrun install --help'`},
		{[]string{"install", "--print=perhaps"}, `--print=perhaps: give true or false; see 'k8s-testrun install --help'`},
		{[]string{"--verbose"}, `unknown flag --verbose; see 'k8s-testrun --help'`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; see 'k8s-testrun --help'`},
		{[]string{"versoin"}, `unknown command "versoin" (did you mean "version"?); see 'k8s-testrun --help'`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env, stdout, stderr := testEnv(nil)
			assert.Equal(t, ExitInfra, Run(context.Background(), tt.args, env))
			out := stderr.String()
			assert.Equal(t, 1, strings.Count(out, "\n"), "one line:\n%s", out)
			assert.True(t, strings.HasPrefix(out, "k8s-testrun: "), out)
			assert.Contains(t, out, tt.want)
			assert.NotContains(t, out, "Usage:", "no usage text")
			assert.Empty(t, stdout.String())
		})
	}
}

// TestSelectionAfterDashIsPytests: flags after "--" are pytest's, whatever
// their spelling; the project directory may come before or after flags.
func TestRunArgumentsAroundTheDash(t *testing.T) {
	env, _, stderr := testEnv(nil)
	// Two projects before "--": the run never starts, and the error says
	// where the selection goes; nothing after "--" was taken as a flag.
	code := Run(context.Background(), []string{"run", "--repository", "r.io/x", "a", "-p", "2", "b", "--", "-p", "no:cacheprovider", "--paralel"}, env)
	assert.Equal(t, ExitInfra, code)
	assert.Contains(t, stderr.String(), `arguments "a b": give one project directory; pytest selection goes after --`)
}
