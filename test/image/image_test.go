// Package image checks the action's Dockerfile without a container engine:
// its stages, the build command, the entrypoint, and that the same build
// command, run here, gives a static binary that works.
package image

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/k8s-testrun/k8s-testrun"

var root = filepath.Join("..", "..")

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd, Args string
}

func parse(t *testing.T) [][]instruction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	var stages [][]instruction
	var cur string
	// ARGs before the first FROM are the defaults FROM lines expand.
	global := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		cur = ""
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "ARG" && len(stages) == 0 {
			k, v, _ := strings.Cut(in.Args, "=")
			global[k] = v
			continue
		}
		if in.Cmd == "FROM" {
			in.Args = os.Expand(in.Args, func(k string) string {
				v, ok := global[k]
				require.True(t, ok, "FROM names ${%s}, which no ARG before the first FROM defines", k)
				return v
			})
			stages = append(stages, nil)
		}
		require.NotEmpty(t, stages, "the Dockerfile starts with FROM")
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	return stages
}

func find(stage []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range stage {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

var (
	goBuild    = regexp.MustCompile(`CGO_ENABLED=0 go build (.*) -o (\S+) ./cmd/action$`)
	podBuild   = regexp.MustCompile(`CGO_ENABLED=0 go build (.*) -o (\S+) ./cmd/k8s-testrun-pod$`)
	podBinName = "k8s-testrun-pod"
)

func TestDockerfile(t *testing.T) {
	stages := parse(t)
	require.Len(t, stages, 2, "a builder stage and a runtime stage")
	builder, runtime := stages[0], stages[1]

	assert.Equal(t, "golang:1.26 AS build", builder[0].Args, "the builder has the go.mod toolchain")
	var out, podOut string
	for _, r := range find(builder, "RUN") {
		if m := goBuild.FindStringSubmatch(r.Args); m != nil {
			out = m[2]
			assert.Contains(t, m[1], "-trimpath")
		}
		if m := podBuild.FindStringSubmatch(r.Args); m != nil {
			podOut = m[2]
			assert.Contains(t, m[1], "-trimpath")
		}
	}
	require.NotEmpty(t, out, "the builder builds ./cmd/action with CGO_ENABLED=0")
	require.NotEmpty(t, podOut, "the builder builds ./cmd/k8s-testrun-pod with CGO_ENABLED=0")

	assert.True(t, strings.HasPrefix(runtime[0].Args, "debian:"), "runtime base: %s", runtime[0].Args)
	var installs string
	for _, r := range find(runtime, "RUN") {
		installs += r.Args
	}
	for _, pkg := range []string{"python3", "python3-pip", "ca-certificates"} {
		assert.Regexp(t, `\b`+regexp.QuoteMeta(pkg)+`(\s|$)`, installs, "the runtime has %s: pip builds the dependency layer here", pkg)
	}
	assert.NotContains(t, installs, "coverage", "the runtime has no coverage.py: the pods' coverage data is combined in the cluster")

	// The CLI, and beside it the pod binary, which test images carry.
	copies := find(runtime, "COPY")
	require.Len(t, copies, 2)
	dest := map[string]string{}
	for _, c := range copies {
		f := strings.Fields(c.Args)
		require.Len(t, f, 3)
		assert.Equal(t, "--from=build", f[0])
		dest[f[1]] = f[2]
	}
	binary := dest[out]
	require.NotEmpty(t, binary, "the runtime copies what the builder built")
	assert.Equal(t, filepath.Join(filepath.Dir(binary), podBinName), dest[podOut], "the pod binary beside the CLI")

	eps := find(runtime, "ENTRYPOINT")
	require.Len(t, eps, 1)
	var ep []string
	require.NoError(t, json.Unmarshal([]byte(eps[0].Args), &ep), "exec form, so signals reach the binary")
	assert.Equal(t, []string{binary}, ep)

	// Every directory the binary's packages live in is copied in.
	copied := map[string]bool{}
	for _, c := range find(builder, "COPY") {
		f := strings.Fields(c.Args)
		for _, src := range f[:len(f)-1] {
			copied[strings.TrimPrefix(src, "./")] = true
		}
	}
	assert.True(t, copied["go.mod"] && copied["go.sum"])
	cmd := exec.Command("go", "list", "-deps", "./cmd/action", "./cmd/k8s-testrun-pod")
	cmd.Dir = root
	list, err := cmd.Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(list)) {
		if rel, ok := strings.CutPrefix(p, module+"/"); ok {
			top, _, _ := strings.Cut(rel, "/")
			assert.True(t, copied[top], "the builder stage does not copy %s/, which %s needs", top, p)
		}
	}
}

// TestDockerfileBuildCommand runs the builder's go build here: the result
// must be a static linux binary that runs.
func TestDockerfileBuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	var build string
	for _, r := range find(parse(t)[0], "RUN") {
		if goBuild.MatchString(r.Args) {
			build = r.Args
		}
	}
	require.NotEmpty(t, build)
	bin := filepath.Join(t.TempDir(), "k8s-testrun")
	build = strings.ReplaceAll(build, "${VERSION}", "test-image")
	build = goBuild.ReplaceAllString(build, "CGO_ENABLED=0 go build $1 -o "+bin+" ./cmd/action")
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", build, out)

	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "statically linked: no dynamic loader")
	}
	v, err := exec.Command(bin, "version").Output()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(v), "k8s-testrun test-image\n"), "the version is stamped: %q", v)

	// The pod binary too: static, and it runs.
	for _, r := range find(parse(t)[0], "RUN") {
		if podBuild.MatchString(r.Args) {
			build = r.Args
		}
	}
	pod := filepath.Join(filepath.Dir(bin), podBinName)
	cmd = exec.Command("sh", "-c", podBuild.ReplaceAllString(build, "CGO_ENABLED=0 go build $1 -o "+pod+" ./cmd/k8s-testrun-pod"))
	cmd.Dir = root
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	pf, err := elf.Open(pod)
	require.NoError(t, err)
	defer pf.Close()
	for _, p := range pf.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "the pod binary is statically linked")
	}
	help, err := exec.Command(pod, "--help").Output()
	require.NoError(t, err)
	assert.Contains(t, string(help), "shim")
}
