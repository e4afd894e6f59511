//go:build e2e

package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
	"github.com/k8s-testrun/k8s-testrun/test/support"
)

// Where the hostile project's impostors and build backend leave their
// markers (testdata/hostile/evilpkg/hostile_marker.py): the directory the
// variable names, and, from a process whose environment was cleaned, the
// fallback files.
const (
	hostileMarkerEnv      = "K8S_TESTRUN_HOSTILE_MARKER"
	hostileMarkerFallback = "/tmp/k8s-testrun-hostile-marker-"
	hostileCanaryEnv      = "K8S_TESTRUN_CANARY"
)

// hostileTests are the verdicts of testdata/hostile's tests.
var hostileTests = map[string]junit.Status{
	"tests/test_artifacts.py::test_writes_100000_artifact_files":                         junit.StatusPassed,
	"tests/test_commands.py::test_prints_workflow_commands":                              junit.StatusPassed,
	"tests/test_commands.py::test_fails_with_workflow_commands_in_its_message":           junit.StatusFailed,
	"tests/test_commands.py::test_id_carries_a_command[##[warning title=id]injected-id]": junit.StatusPassed,
	"tests/test_commands.py::test_id_carries_a_command[::warning::injected-id]":          junit.StatusPassed,
	"tests/test_deps.py::test_the_dependency_is_installed":                               junit.StatusPassed,
	"tests/test_results.py::test_rewrites_its_own_file_attribute":                        junit.StatusFailed,
	"tests/test_results.py::test_writes_a_coverage_file_with_a_command_in_its_name":      junit.StatusPassed,
}

const hostileArtifactsTest = "tests/test_artifacts.py::test_writes_100000_artifact_files"

// hostile is one copy of testdata/hostile, as a workspace, with the
// secrets a run of it must never show.
type hostile struct {
	c *Cluster
	// workspace is the checkout: the project at its root, the working
	// directory of every k8s-testrun process, as on a runner.
	workspace string
	markers   string
	// token is the token input, githubToken the GITHUB_TOKEN a runner
	// sets, canary a variable of the process environment only.
	token, githubToken, canary string
	// secrets are the values to look for; needles adds their escaped and
	// shortened forms.
	secrets []string
}

func newHostile(t *testing.T, c *Cluster) *hostile {
	t.Helper()
	h := &hostile{
		c:           c,
		workspace:   filepath.Join(t.TempDir(), "workspace"),
		markers:     t.TempDir(),
		token:       "ghs_e2eInputToken" + randomHex(t),
		githubToken: "ghs_e2eGithubToken" + randomHex(t),
		canary:      "ktrcanary" + randomHex(t),
	}
	require.NoError(t, os.CopyFS(h.workspace, os.DirFS(Testdata("hostile"))))
	// pip must run on the host whatever the registry's dependency cache
	// holds from earlier runs.
	reqs := filepath.Join(h.workspace, "requirements.txt")
	b, err := os.ReadFile(reqs)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(reqs, append(b, fmt.Sprintf("# %s\n", randomHex(t))...), 0o644))
	writeSdist(t, filepath.Join(h.workspace, "evilpkg"), filepath.Join(h.workspace, "requirements", "dists", "evilpkg-1.0.tar.gz"))

	old, _ := filepath.Glob(hostileMarkerFallback + "*")
	for _, f := range old {
		require.NoError(t, os.Remove(f))
	}
	h.secrets = append([]string{h.token, h.githubToken, h.canary}, kubeconfigSecrets(t, os.Getenv(EnvKubeconfig))...)
	return h
}

func randomHex(t *testing.T) string {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// writeSdist packs dir as the source distribution evilpkg-1.0.tar.gz, which
// the requirements variants find with --find-links and pip would build.
func writeSdist(t *testing.T, dir, dst string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	f, err := os.Create(dst)
	require.NoError(t, err)
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "evilpkg-1.0/" + e.Name(), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		_, err = tw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
}

// kubeconfigSecrets are the credentials of the kubeconfig at path: a token,
// a password, a client key as the file spells it and as its PEM body.
func kubeconfigSecrets(t *testing.T, path string) []string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	require.NoError(t, err)
	var out []string
	for _, a := range cfg.AuthInfos {
		for _, s := range []string{a.Token, a.Password} {
			if s != "" {
				out = append(out, s)
			}
		}
		if len(a.ClientKeyData) > 0 {
			out = append(out, base64.StdEncoding.EncodeToString(a.ClientKeyData))
			if blk, _ := pem.Decode(a.ClientKeyData); blk != nil {
				out = append(out, base64.StdEncoding.EncodeToString(blk.Bytes))
			}
		}
	}
	require.NotEmpty(t, out, "the kubeconfig %s carries a credential", path)
	return out
}

// hostileRun is one finished k8s-testrun process.
type hostileRun struct {
	CLIResult
	// MaxRSS is the process's peak resident set, from the kernel's
	// accounting when it was reaped: an upper bound, since it includes its
	// children's and, at the exec, this test process's.
	MaxRSS int64
}

// run runs k8s-testrun from the workspace with the secrets in its
// environment: the canary first, so that a leak of the environment's
// start shows it.
func (h *hostile) run(ctx context.Context, t *testing.T, env []string, args ...string) hostileRun {
	t.Helper()
	cmd := h.c.Command(ctx, t, nil, args...)
	cmd.Dir = h.workspace
	cmd.Env = append(append([]string{hostileCanaryEnv + "=" + h.canary}, os.Environ()...),
		hostileMarkerEnv+"="+h.markers, "GITHUB_TOKEN="+h.githubToken)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := hostileRun{CLIResult: CLIResult{Stdout: stdout.String(), Stderr: stderr.String(), Wall: time.Since(start)}}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.Exit = exit.ExitCode()
	case err != nil:
		require.NoError(t, err, "running k8s-testrun")
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSS = ru.Maxrss << 10
	}
	t.Logf("k8s-testrun %s: exit %d in %s, peak RSS %.1f MB\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.Exit,
		res.Wall.Round(time.Millisecond), float64(res.MaxRSS)/(1<<20), clip(res.Stdout), clip(res.Stderr))
	return res
}

// clip keeps a log readable: its first and last 64 KiB.
func clip(s string) string {
	const keep = 64 << 10
	if len(s) <= 2*keep {
		return s
	}
	return s[:keep] + fmt.Sprintf("\n[... %d bytes ...]\n", len(s)-2*keep) + s[len(s)-keep:]
}

// requireNoMarker fails the test if any impostor or build backend of the
// project ran on this machine, with what it found.
func (h *hostile) requireNoMarker(t *testing.T) {
	t.Helper()
	found, _ := filepath.Glob(filepath.Join(h.markers, "*"))
	fallback, _ := filepath.Glob(hostileMarkerFallback + "*")
	for _, f := range append(found, fallback...) {
		b, _ := os.ReadFile(f)
		t.Errorf("project code ran on the host: marker %s:\n%s", f, b)
		require.NoError(t, os.Remove(f), "so the next run starts clean")
	}
}

// needles are, for each secret, the forms a leak of it may take: as is,
// escaped for Markdown, and its longest run of letters and digits, which
// survives any escaping.
func (h *hostile) needles() [][]string {
	var out [][]string
	for _, s := range h.secrets {
		forms := []string{s, strings.ReplaceAll(s, "_", `\_`)}
		longest := ""
		for _, run := range regexp.MustCompile(`[A-Za-z0-9]+`).FindAllString(s, -1) {
			if len(run) > len(longest) {
				longest = run
			}
		}
		if len(longest) >= 16 {
			forms = append(forms, longest)
		}
		out = append(out, forms)
	}
	return out
}

// requireNoSecret fails the test if a secret shows in what, except in the
// masks k8s-testrun sends before anything else.
func (h *hostile) requireNoSecret(t *testing.T, what, s string) {
	t.Helper()
	var kept []string
	for _, line := range runnerLines(s) {
		if !strings.HasPrefix(line, "::add-mask::") {
			kept = append(kept, line)
		}
	}
	all := strings.Join(kept, "\n")
	for _, forms := range h.needles() {
		for _, n := range forms {
			if i := strings.Index(all, n); i >= 0 {
				t.Errorf("a secret shows in %s: %q", what, all[max(0, i-200):min(len(all), i+len(n)+200)])
				break
			}
		}
	}
}

// runnerLines splits a log as a GitHub runner reads it: .NET's ReadLine
// ends a line at "\n", "\r" and "\r\n".
func runnerLines(s string) []string {
	return strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s), "\n")
}

// ourCommand tells the workflow commands k8s-testrun itself issues.
var ourCommand = regexp.MustCompile(`^::(group::|endgroup::$|add-mask::|(warning|error|notice)::k8s-testrun: |(error|warning|notice) file=tests/)`)

// requireNoInjectedCommand applies the runner's rules to a log: a line
// whose start, after whitespace, is "::" is a command, and so is any line
// with "##[" in it, unless a stop-commands fence is open. Every command
// must be one k8s-testrun issues; a mask must not hide what a test chose.
func requireNoInjectedCommand(t *testing.T, what, log string) {
	t.Helper()
	token := ""
	for _, line := range runnerLines(log) {
		l := strings.TrimLeftFunc(line, unicode.IsSpace)
		switch {
		case token != "":
			if l == "::"+token+"::" {
				token = ""
			}
		case strings.HasPrefix(l, "::stop-commands::"):
			token = strings.TrimPrefix(l, "::stop-commands::")
			if len(token) < 32 {
				t.Errorf("%s: a fence with a short token: %q", what, line)
			}
		case strings.HasPrefix(l, "::"):
			if !ourCommand.MatchString(l) ||
				strings.HasPrefix(l, "::add-mask::") && (strings.Contains(l, "hostile") || strings.Contains(l, "injected")) {
				t.Errorf("%s: a workflow command k8s-testrun does not issue: %q", what, line)
			}
		case strings.Contains(line, "##["):
			t.Errorf("%s: a legacy workflow command (##[): %q", what, line)
		}
	}
	assert.Empty(t, token, "%s: every fence is closed", what)
}

// ourHeadings are the headings k8s-testrun writes in a summary, by level.
var ourHeadings = map[int]*regexp.Regexp{
	3: regexp.MustCompile(`^\S+ k8s-testrun: [0-9a-z ,.:]+$`),
	4: regexp.MustCompile(`^(Failures and errors \(\d+\)|Flaky \(\d+\)|Infrastructure retries|Slowest \d+|Runtime matrix)$`),
}

// requireOnlyOurMarkup parses a summary as GitHub does (CommonMark with
// tables) and fails the test on any heading, image or HTML k8s-testrun does
// not write, and on a link that leaves the GitHub server.
func requireOnlyOurMarkup(t *testing.T, what, md string) {
	t.Helper()
	src := []byte(md)
	doc := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough)).Parser().Parse(text.NewReader(src))
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			title := strings.TrimSpace(string(n.Lines().Value(src)))
			if re := ourHeadings[n.Level]; re == nil || !re.MatchString(title) {
				t.Errorf("%s: a heading k8s-testrun does not write: level %d %q", what, n.Level, title)
			}
		case *ast.Image:
			t.Errorf("%s: an image: %q", what, n.Destination)
		case *ast.RawHTML:
			t.Errorf("%s: inline HTML: %q", what, n.Segments.Value(src))
		case *ast.HTMLBlock:
			t.Errorf("%s: an HTML block: %q", what, n.Lines().Value(src))
		case *ast.Link:
			if !strings.HasPrefix(string(n.Destination), "https://github.example/") {
				t.Errorf("%s: a link off the GitHub server: %q", what, n.Destination)
			}
		case *ast.AutoLink:
			if u := string(n.URL(src)); !strings.HasPrefix(u, "https://github.example/") {
				t.Errorf("%s: a link off the GitHub server: %q", what, u)
			}
		}
		return ast.WalkContinue, nil
	})
	require.NoError(t, err)
}

// summaries are the check run's Markdown texts the requests carried.
func checkRunSummaries(api *support.GitHubAPI) []string {
	var out []string
	for _, r := range api.Got() {
		var req struct {
			Output struct{ Summary, Text string } `json:"output"`
		}
		if json.Unmarshal([]byte(r.Raw), &req) == nil {
			out = append(out, req.Output.Summary, req.Output.Text)
		}
	}
	return out
}

// requireNothingLeaked checks everything an action run left for a reader:
// its log, its outputs, its summary and what it sent to GitHub.
func (h *hostile) requireNothingLeaked(t *testing.T, res hostileRun, s step, api *support.GitHubAPI) {
	t.Helper()
	h.requireNoMarker(t)
	h.requireNoSecret(t, "stdout", res.Stdout)
	h.requireNoSecret(t, "stderr", res.Stderr)
	requireNoInjectedCommand(t, "stdout", res.Stdout)
	requireNoInjectedCommand(t, "stderr", res.Stderr)
	for name, path := range map[string]string{"$GITHUB_OUTPUT": s.output, "the step summary": s.summary, "the JUnit report": s.junit} {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		h.requireNoSecret(t, name, string(b))
	}
	md, err := os.ReadFile(s.summary)
	require.NoError(t, err)
	requireOnlyOurMarkup(t, "the step summary", string(md))
	for i, r := range api.Got() {
		h.requireNoSecret(t, fmt.Sprintf("request %d to the GitHub API", i+1), r.Method+" "+r.Path+"\n"+r.Raw)
		// JSON escapes some characters; the decoded strings are what GitHub
		// shows.
		var v any
		if json.Unmarshal([]byte(r.Raw), &v) == nil {
			h.requireNoSecret(t, fmt.Sprintf("request %d to the GitHub API, decoded", i+1), strings.Join(jsonStrings(v), "\n"))
		}
	}
	for _, md := range checkRunSummaries(api) {
		requireOnlyOurMarkup(t, "the check run's output", md)
	}
}

func jsonStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range v {
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}

// requireNoPods fails the test if any pod, k8s-testrun's or not, is left in
// the namespace.
func (h *hostile) requireNoPods(t *testing.T, ns string) {
	t.Helper()
	h.c.RequireNoRunPods(t, ns)
	pods, err := h.c.Client.CoreV1().Pods(ns).List(Context(t, 10*time.Second), metav1.ListOptions{})
	require.NoError(t, err)
	for _, p := range pods.Items {
		t.Errorf("pod %s left in %s", p.Name, ns)
	}
}

// TestHostileProject runs testdata/hostile, a project that attacks the
// machine that runs k8s-testrun: impostors of pip and coverage.py at its
// root, requirements that make pip build its code from source or read the
// process's environment, tests that print workflow commands, rewrite their
// own results with Markdown, name a coverage data file with a command,
// write 100,000 artifacts, and a 53 MiB nested report for --rerun-failed.
// No project code runs on this machine, no secret shows anywhere a reader
// or GitHub sees, no test line issues a command, the summary carries only
// k8s-testrun's markup, and the runner's memory stays bounded.
func TestHostileProject(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-hostile")
	h := newHostile(t, c)
	ctx := Context(t, 10*time.Minute)

	t.Run("requirements", func(t *testing.T) {
		for _, v := range []struct {
			file string
			// names are the files the error line may name: the one given, or
			// the nested one whose line is refused.
			names []string
		}{
			{"no-bin.txt", nil},
			{"only-bin.txt", nil},
			{"only-binary-quoted.txt", nil},
			{"separator.txt", nil},
			{"edit.txt", nil},
			{"requirem.txt", []string{"nested.txt"}},
			{"environ.txt", []string{"/proc/self/environ"}},
		} {
			t.Run(v.file, func(t *testing.T) {
				api, srv := newChecksAPI(t, false)
				s := c.actionStep(t, srv.URL, ns, ".", map[string]string{"requirements": "requirements/" + v.file, "token": h.token})
				res := h.run(ctx, t, append(s.env, "GITHUB_WORKSPACE="+h.workspace, "RUNNER_DEBUG=1"))
				assert.Equal(t, 2, res.Exit, "a refused requirements file is a bad input")
				lines := errorLines(res.Stderr)
				if assert.Len(t, lines, 1, "one line says why") {
					named := strings.Contains(lines[0], "requirements/"+v.file)
					for _, n := range v.names {
						named = named || strings.Contains(lines[0], n)
					}
					assert.True(t, named, "the line names the file: %q", lines[0])
					assert.Regexp(t, `(?i)\b(use|remove|copy|give|point|drop|delete|move|put|install|add|replace|keep|list)\b`, lines[0], "the line names the fix")
				}
				h.requireNothingLeaked(t, res, s, api)
			})
		}
	})
	h.requireNoPods(t, ns)

	base := c.debBase(t, "python3-coverage", "python-coverage")

	t.Run("action", func(t *testing.T) {
		api, srv := newChecksAPI(t, false)
		s := c.actionStep(t, srv.URL, ns, ".", map[string]string{"base_image": base, "coverage": "true", "token": h.token, "timeout": "3m"})
		res := h.run(ctx, t, append(s.env, "GITHUB_WORKSPACE="+h.workspace, "RUNNER_DEBUG=1"))
		assert.Equal(t, 1, res.Exit, "two tests fail")
		if md, err := os.ReadFile(s.summary); err == nil {
			t.Logf("job summary:\n%s", md)
		}
		h.requireNothingLeaked(t, res, s, api)
		assert.LessOrEqual(t, res.MaxRSS, int64(maxRunnerRSS), "runner peak RSS")
		h.requireVerdicts(t, s.junit)

		outs := readOutputs(t, s.output)
		assert.Equal(t, itoa(len(hostileTests)), outs["total"])
		assert.Equal(t, "2", outs["failed"])
		assert.Regexp(t, `^\d+(\.\d)?$`, outs["coverage"], "the pods' coverage is combined, the bad data file left out")
	})
	h.requireNoPods(t, ns)

	t.Run("cli", func(t *testing.T) {
		junitPath := filepath.Join(t.TempDir(), "junit.xml")
		artifacts := filepath.Join(t.TempDir(), "artifacts")
		res := h.run(ctx, t, nil, append(c.runArgs(t, ns, junitPath, "-v", "--base-image", base, "--coverage", "--artifacts", artifacts), h.workspace)...)
		assert.Equal(t, 1, res.Exit, "two tests fail")
		h.requireNoMarker(t)
		h.requireNoSecret(t, "stdout", res.Stdout)
		h.requireNoSecret(t, "stderr", res.Stderr)
		// The CLI issues no workflow command, but its output may be a CI
		// runner's log.
		requireNoInjectedCommand(t, "stdout", res.Stdout)
		requireNoInjectedCommand(t, "stderr", res.Stderr)
		assert.LessOrEqual(t, res.MaxRSS, int64(maxRunnerRSS), "runner peak RSS")
		h.requireVerdicts(t, junitPath)

		dir := filepath.Join(artifacts, report.ArtifactDir(plan.Case{ID: testid.CaseID(hostileArtifactsTest), TestID: hostileArtifactsTest}))
		n := 0
		_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		t.Logf("%d artifact files of %s", n, hostileArtifactsTest)
		assert.Positive(t, n, "the artifacts within the limit are kept")
		assert.LessOrEqual(t, n, 1000, "at most 1,000 artifact files per test")
		junitXML, err := os.ReadFile(junitPath)
		require.NoError(t, err)
		h.requireNoSecret(t, "the JUnit report", string(junitXML))
		var note string
		for _, l := range strings.Split(res.Stdout+"\n"+res.Stderr+"\n"+string(junitXML), "\n") {
			if regexp.MustCompile(`(?i)artifact`).MatchString(l) && regexp.MustCompile(`(?i)\b1,?000\b|dropped|left out|skipped|limit|exceed`).MatchString(l) {
				note = l
			}
		}
		assert.NotEmpty(t, note, "a note says the artifacts were cut")
	})
	h.requireNoPods(t, ns)

	t.Run("rerun-failed", func(t *testing.T) {
		nested := filepath.Join(t.TempDir(), "nested.xml")
		writeNestedXML(t, nested, 53<<20)
		report := filepath.Join(t.TempDir(), "junit.xml")
		res := h.run(ctx, t, nil, append(c.runArgs(t, ns, report, "-v", "--rerun-failed", nested), h.workspace)...)
		t.Logf("--rerun-failed with a 53 MiB nested report: exit %d, peak RSS %.1f MB", res.Exit, float64(res.MaxRSS)/(1<<20))
		assert.LessOrEqual(t, res.MaxRSS, int64(maxRunnerRSS), "runner peak RSS")
		switch res.Exit {
		case 2:
			lines := errorLines(res.Stderr)
			if assert.Len(t, lines, 1, "one line says why") {
				assert.Contains(t, lines[0], nested, "the line names the report")
			}
		case 0:
			assert.Contains(t, res.Stderr, "nothing to rerun", "a report without testcases reruns nothing")
		default:
			t.Errorf("exit %d: neither refused (2) nor read (0)", res.Exit)
		}
		h.requireNoMarker(t)
	})
	h.requireNoPods(t, ns)
}

// requireVerdicts checks the report of a run of the hostile project: each
// test's verdict, and no file attribute the test id does not give.
func (h *hostile) requireVerdicts(t *testing.T, path string) {
	t.Helper()
	got := reportTestIDs(t, readReport(t, path))
	statuses := map[string]junit.Status{}
	for id, tc := range got {
		statuses[id] = tc.Status()
		file, _, _ := strings.Cut(id, "::")
		if tc.File != "" && tc.File != file {
			t.Errorf("%s: the report names file %q", id, tc.File)
		}
	}
	assert.Equal(t, hostileTests, statuses)
}

// writeNestedXML writes a JUnit-rooted report of size bytes that is one
// element nested as deep as it fits.
func writeNestedXML(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	head, tail := `<?xml version="1.0" encoding="UTF-8"?>`+"\n<testsuites>", "</testsuites>\n"
	depth := (size - len(head) - len(tail)) / len("<a></a>")
	_, err = w.WriteString(head)
	require.NoError(t, err)
	for range depth {
		_, err = w.WriteString("<a>")
		require.NoError(t, err)
	}
	for range depth {
		_, err = w.WriteString("</a>")
		require.NoError(t, err)
	}
	_, err = w.WriteString(tail)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
}
