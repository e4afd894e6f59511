package podcmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

func testEnv() (Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return Env{
		Stdout: &stdout, Stderr: &stderr,
		Environ: func() []string { return []string{"PATH=" + os.Getenv("PATH")} },
	}, &stdout, &stderr
}

func TestShimAndSidecarCommands(t *testing.T) {
	results := t.TempDir()
	env, stdout, _ := testEnv()
	code := Run(context.Background(), []string{"shim", "--results", results, "--", "sh", "-c", "echo hello from the test; exit 3"}, env)
	assert.Equal(t, 3, code, "the shim exits with the test's exit code")
	assert.Contains(t, stdout.String(), "hello from the test")
	b, err := os.ReadFile(filepath.Join(results, "exitcode"))
	require.NoError(t, err)
	assert.Equal(t, "3", strings.TrimSpace(string(b)))
	assert.FileExists(t, filepath.Join(results, "done"))

	env, stdout, _ = testEnv()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.Equal(t, ExitOK, Run(ctx, []string{"sidecar", "--results", results}, env))
	files, err := transport.Decode(strings.NewReader(stdout.String()))
	require.NoError(t, err)
	names := map[string]string{}
	for _, f := range files {
		names[f.Name] = string(f.Data)
	}
	assert.Equal(t, "3", strings.TrimSpace(names["exitcode"]))
	assert.Contains(t, names["output.txt"], "hello from the test")

	env, _, stderr := testEnv()
	assert.Equal(t, ExitInfra, Run(context.Background(), []string{"shim", "--results", results}, env))
	assert.Contains(t, stderr.String(), "no command given")
}

// TestCoverageRole: the coverage pod's entrypoint runs coverage.py with
// the rcfile and data it is given and prints the report as a block.
func TestCoverageRole(t *testing.T) {
	dir := t.TempDir()
	python := filepath.Join(dir, "python")
	script := "#!/bin/sh\necho \"$*\" >> '" + dir + "/calls'\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = -o ]; then echo '<coverage/>' > \"$2\"; fi\n  shift\ndone\n"
	require.NoError(t, os.WriteFile(python, []byte(script), 0o755))
	data := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(data, ".coverage.x"), nil, 0o644))

	env, stdout, stderr := testEnv()
	code := Run(context.Background(), []string{coverage.Role, "--python", python, "--data", data, "--rcfile", "/rc", "--dir", dir}, env)
	require.Equal(t, ExitOK, code, "stderr: %s", stderr)
	xml, err := coverage.ReadReport(stdout.Bytes())
	require.NoError(t, err)
	assert.Equal(t, "<coverage/>\n", string(xml))
	calls, err := os.ReadFile(filepath.Join(dir, "calls"))
	require.NoError(t, err)
	assert.Contains(t, string(calls), "-m coverage combine --rcfile=/rc ")
	assert.Contains(t, string(calls), "-m coverage xml --rcfile=/rc -o ")

	env, _, stderr = testEnv()
	code = Run(context.Background(), []string{coverage.Role, "--python", python, "--data", t.TempDir(), "--rcfile", "/rc", "--dir", dir}, env)
	assert.NotEqual(t, ExitOK, code)
	assert.Contains(t, stderr.String(), "k8s-testrun coverage-combine: no coverage data file")
}

// TestRoleCommandLines: the command lines k8s-testrun writes into pod specs
// parse as they did with Go's flag package: flags up to "--" or the first
// argument that is not one, the rest passed through whole.
func TestRoleCommandLines(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{discover.Command("/bin/k8s-testrun-pod", []string{"-k", "one"})[1:],
			[]string{"/bin/k8s-testrun-pod", discover.Role, "--", "-p", layout.MarkersPlugin, "--k8s-testrun-list-markers", "-k", "one"}},
		{[]string{"shim", "--results", "/r", "--stream", "--test-timeout", "30s", "--service", "db=tcp:db:5432", "--service-timeout", "1m", "--", "python", "-m", "pytest", "--", "-x"},
			[]string{"python", "-m", "pytest", "--", "-x"}},
		{[]string{"shim", "python", "--results", "x"}, []string{"python", "--results", "x"}},
		{[]string{discover.Role, discover.CoverageFlag, "--python", "python3", "--", "-k", "one"}, []string{"-k", "one"}},
		{[]string{coverage.Role, "--rcfile", coverage.RcfilePath, "--data", "/d", "--dir", "/w", "--limit", "10", "--python", "py"}, []string{}},
		{[]string{"sidecar", "--results", "/results", "--limit", "100", "--hold", "--linger-file", "/f"}, []string{}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env, _, _ := testEnv()
			cmd, rest, err := NewCommand(env).Find(tt.args)
			require.NoError(t, err)
			require.NoError(t, cmd.ParseFlags(rest))
			assert.Equal(t, tt.want, append([]string{}, cmd.Flags().Args()...))
		})
	}
}

// TestRoleOutputPassesUnchanged: a role's output is the pod's log, which
// carries the results block and which no workflow runner reads: nothing is
// escaped in it.
func TestRoleOutputPassesUnchanged(t *testing.T) {
	env, stdout, _ := testEnv()
	line := "::warning::from the test ##[error]x \x1b[31m"
	code := Run(context.Background(), []string{"shim", "--results", t.TempDir(), "--", "printf", "%s\n", line}, env)
	require.Equal(t, ExitOK, code)
	assert.Contains(t, stdout.String(), line+"\n")
}

func TestBadCommandLines(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"shim", "--resluts", "/r", "--", "true"}, "k8s-testrun: unknown flag: --resluts\n"},
		{[]string{"shim", "--service", "db", "--", "true"}, "k8s-testrun: invalid argument \"db\" for \"--service\" flag: "},
		{[]string{"sidecar", "--limit", "many"}, "k8s-testrun: invalid argument \"many\" for \"--limit\" flag"},
		{[]string{"frobnicate"}, "k8s-testrun: unknown command \"frobnicate\""},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env, _, stderr := testEnv()
			assert.Equal(t, ExitInfra, Run(context.Background(), tt.args, env))
			assert.Contains(t, stderr.String(), tt.want)
			assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line: %q", stderr.String())
		})
	}
}

func TestRoleHelp(t *testing.T) {
	env, stdout, _ := testEnv()
	require.Equal(t, ExitOK, Run(context.Background(), []string{"shim", "--help"}, env))
	assert.Contains(t, stdout.String(), "--results string")
	assert.Contains(t, stdout.String(), "directory shared with the collector")
	assert.Contains(t, stdout.String(), "(repeatable)")
}
