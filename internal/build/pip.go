package build

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// wheelArch maps image architectures to the machine names in wheel tags.
var wheelArch = map[string]string{
	"amd64":   "x86_64",
	"arm64":   "aarch64",
	"386":     "i686",
	"ppc64le": "ppc64le",
	"s390x":   "s390x",
	"riscv64": "riscv64",
}

// minGlibcMinor is manylinux2014's glibc, which every glibc base in use has;
// it is also what is assumed when no package database names the base's glibc.
const minGlibcMinor = 17

// wheelPlatforms lists the wheel platform tags that run on the base, best
// first. pip takes them as given (only manylinux2014 is expanded), so every
// manylinux_2_N up to the base's glibc is named.
func wheelPlatforms(p v1.Platform, info baseInfo) ([]string, error) {
	if p.OS != "linux" {
		return nil, fmt.Errorf("platform %s: only linux images are supported", platformString(p))
	}
	arch, ok := wheelArch[p.Architecture]
	if p.Architecture == "arm" {
		arch, ok = "armv7l", p.Variant == "" || p.Variant == "v7"
	}
	if !ok {
		return nil, fmt.Errorf("platform %s has no Python wheel tag", platformString(p))
	}
	if info.musl {
		return []string{"musllinux_1_2_" + arch, "musllinux_1_1_" + arch}, nil
	}
	maxMinor := minGlibcMinor
	if major, minor, ok := strings.Cut(info.glibc, "."); ok && major == "2" {
		if m, err := strconv.Atoi(minor); err == nil && m > maxMinor {
			maxMinor = m
		}
	}
	lowest := minGlibcMinor
	if arch == "x86_64" || arch == "i686" {
		lowest = 5 // manylinux1
	}
	var tags []string
	for m := maxMinor; m >= lowest; m-- {
		tags = append(tags, fmt.Sprintf("manylinux_2_%d_%s", m, arch))
		if m == minGlibcMinor {
			tags = append(tags, "manylinux2014_"+arch)
		}
	}
	return tags, nil
}

// pipInstall is one pip run that fills the workspace's target with wheels
// for the base.
type pipInstall struct {
	pip          []string
	ws           *workspace
	python       string
	platforms    []string
	requirements string // absolute, in the workspace, or ""
	addPytest    bool
	env          []string // see builder.pythonEnv
}

func (p pipInstall) args() []string {
	args := []string{
		"install",
		"--target", p.ws.target,
		"--only-binary=:all:",
		"--python-version", p.python,
		"--implementation", "cp",
	}
	for _, pl := range p.platforms {
		args = append(args, "--platform", pl)
	}
	// The build side's interpreter may differ from the base's, so it must
	// not compile bytecode for it; the image sets PYTHONDONTWRITEBYTECODE.
	args = append(args,
		"--no-compile",
		"--no-input",
		"--disable-pip-version-check",
		"--no-warn-script-location",
		"--progress-bar", "off",
	)
	if p.requirements != "" {
		args = append(args, "-r", p.requirements)
	}
	if p.addPytest {
		args = append(args, "pytest")
	}
	return args
}

// run runs pip in the workspace and returns its combined output, at most
// maxPipOutput bytes of it.
func (p pipInstall) run(ctx context.Context) ([]byte, error) {
	cmd, err := p.ws.hostCommand(ctx, append(append([]string{}, p.pip...), p.args()...), p.env)
	if err != nil {
		return nil, err
	}
	out := limitedBuffer{limit: maxPipOutput}
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Run()
	return out.Bytes(), err
}

// maxPipOutput bounds what is kept of pip's output.
const maxPipOutput = 4 << 20

// pythonEnv is the environment of host-side Python: PipEnv's, and, when it
// runs as the unprivileged user, a home of its own in the workspace.
func (b *builder) pythonEnv(ws *workspace) []string {
	env := make([]string, 0, len(b.pipEnv)+2)
	for _, kv := range b.pipEnv {
		if ws.cred != nil && strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	if ws.cred != nil {
		env = append(env, "HOME="+ws.home)
	}
	// An environment variable, unlike --root-user-action, is harmless to
	// pips too old to know it; CI runners often build as root.
	return append(env, "PIP_ROOT_USER_ACTION=ignore")
}

// pipEnvNames are the variables pip may see besides PIP_* ones: enough to
// find the interpreter, a home for its cache and a way through a proxy.
var pipEnvNames = map[string]bool{
	"PATH": true, "HOME": true,
	"HTTP_PROXY": true, "HTTPS_PROXY": true, "NO_PROXY": true, "ALL_PROXY": true,
	"http_proxy": true, "https_proxy": true, "no_proxy": true, "all_proxy": true,
}

// pipEnvDenied are PIP_* settings that would undo the wheels-only install.
var pipEnvDenied = map[string]bool{
	"PIP_NO_BINARY": true, "PIP_ONLY_BINARY": true, "PIP_EDITABLE": true,
	"PIP_NO_BUILD_ISOLATION": true, "PIP_USE_PEP517": true, "PIP_CONFIG_SETTINGS": true,
	"PIP_GLOBAL_OPTION": true, "PIP_BUILD_OPTION": true, "PIP_REQUIREMENT": true, "PIP_CONSTRAINT": true,
}

// PipEnv is the part of environ that pip runs with: PATH, HOME, the proxy
// variables and pip's own PIP_* settings (less those that would allow
// building from source). Nothing else reaches pip or what it runs, so the
// action's inputs (INPUT_*), GITHUB_TOKEN, KUBECONFIG and any other secret
// in the environment stay out of its reach.
func PipEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if pipEnvNames[name] || (strings.HasPrefix(name, "PIP_") && !pipEnvDenied[name]) {
			out = append(out, kv)
		}
	}
	return out
}

// lastLines returns up to n of the last non-blank lines of out.
func lastLines(out []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), " \t\r"); strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var requirementNameRe = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)`)

// requiresPytest tells whether a requirements file names pytest itself
// (pytest-cov and the like do not count: they only depend on it).
func requiresPytest(requirements []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(requirements))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") {
			continue
		}
		if m := requirementNameRe.FindString(line); m != "" && normalizeProject(m) == "pytest" {
			return true
		}
	}
	return false
}

var projectSepRe = regexp.MustCompile(`[-_.]+`)

// normalizeProject applies PEP 503 name normalisation.
func normalizeProject(s string) string {
	return projectSepRe.ReplaceAllString(strings.ToLower(s), "-")
}
