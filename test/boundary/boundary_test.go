// Package boundary checks the import boundaries the project keeps: the
// command imports the internal packages and never the reverse, the image
// builder knows nothing of Kubernetes, the Kubernetes layer nothing of image
// building, JUnit and the decision function are leaves, and only the main
// package touches the process environment or exits.
package boundary

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/k8s-testrun/k8s-testrun"

type pkg struct {
	ImportPath string
	Deps       []string
	GoFiles    []string
	Dir        string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", module+"/internal/...", module+"/cmd/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	require.NoError(t, err)
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		require.NoError(t, dec.Decode(&p))
		pkgs[p.ImportPath] = p
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

func TestImportBoundaries(t *testing.T) {
	pkgs := listPackages(t)
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"internal/build", []string{"k8s.io/", module + "/internal/k8s", module + "/internal/runner"}},
		{"internal/k8s", []string{"github.com/google/go-containerregistry", module + "/internal/build"}},
		{"internal/plan", []string{"k8s.io/", "github.com/google/go-containerregistry"}},
		{"internal/junit", []string{"k8s.io/", "github.com/google/go-containerregistry", module + "/internal/"}},
		{"internal/transport", []string{"k8s.io/", module + "/internal/"}},
		{"internal/shim", []string{"k8s.io/", "github.com/google/go-containerregistry"}},
		{"internal/sidecar", []string{"k8s.io/", "github.com/google/go-containerregistry"}},
	}
	for _, r := range rules {
		p, ok := pkgs[module+"/"+r.pkg]
		require.True(t, ok, "package %s", r.pkg)
		for _, d := range p.Deps {
			for _, f := range r.forbidden {
				assert.False(t, strings.HasPrefix(d, f) && d != module+"/internal/layout", "%s must not import %s (via %s)", r.pkg, f, d)
			}
		}
	}
	for name, p := range pkgs {
		if !strings.HasPrefix(name, module+"/internal/") {
			continue
		}
		for _, d := range p.Deps {
			assert.False(t, strings.HasPrefix(d, module+"/cmd/"), "%s must not import %s", name, d)
		}
	}
}

// processAccess matches what only cmd/action may do.
var processAccess = regexp.MustCompile(`\bos\.(Getenv|LookupEnv|Environ|Exit|Args)\b`)

func TestOnlyMainTouchesTheProcess(t *testing.T) {
	for name, p := range listPackages(t) {
		if !strings.HasPrefix(name, module+"/internal/") {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := os.Open(path)
			require.NoError(t, err)
			sc := bufio.NewScanner(file)
			for n := 1; sc.Scan(); n++ {
				if processAccess.MatchString(sc.Text()) {
					t.Errorf("%s:%d: %s (only cmd/action reads the environment or exits)", path, n, strings.TrimSpace(sc.Text()))
				}
			}
			file.Close()
		}
	}
}

// TestResultModelLeavesTheRunnerOut: the result model (attempt, report)
// and the front doors other than direct mode (the operator, GitHub
// reporting) stand without the direct-mode runner.
func TestResultModelLeavesTheRunnerOut(t *testing.T) {
	pkgs := listPackages(t)
	for _, name := range []string{"internal/attempt", "internal/report", "internal/operator", "internal/ghaction"} {
		p, ok := pkgs[module+"/"+name]
		require.True(t, ok, "package %s", name)
		assert.False(t, slices.Contains(p.Deps, module+"/internal/runner"), "%s must not import internal/runner", name)
	}
}

// counting matches a hand count of tests by verdict.
var counting = regexp.MustCompile(`\.(Total|Passed|Failed|Errors|Skipped|Flaky|NotRun|Stopped|Infra|Quarantined|passed|failed|errors|skipped|flaky)\s*\+\+`)

// TestOneCounter: tests are counted by verdict in one place,
// report.Counts.Add, which the report, the summary, the operator's
// status and the live progress share. JUnit's own suite attributes are
// the junit leaf's.
func TestOneCounter(t *testing.T) {
	allowed := map[string]bool{"internal/report/counts.go": true, "internal/junit/write.go": true}
	for name, p := range listPackages(t) {
		if !strings.HasPrefix(name, module+"/internal/") {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			rel := strings.TrimPrefix(name, module+"/") + "/" + f
			if allowed[rel] {
				continue
			}
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			for n, line := range strings.Split(string(b), "\n") {
				if counting.MatchString(line) {
					t.Errorf("%s:%d: %s (count tests with report.Counts.Add)", rel, n+1, strings.TrimSpace(line))
				}
			}
		}
	}
}
