package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// B6 targets: the whole `k8s-testrun run` (build, discovery, run, report)
// over one bare pod running plain pytest on the whole suite.
const (
	B6FileTarget   = 5.0
	B6ShardsTarget = 1.5
)

// junitMarker separates pytest's output from the JUnit file in the log of
// the plain pytest pod.
const junitMarker = "----- k8s-testrun bench: junit xml -----"

// b6 times, on the real suite, the CLI as a user runs it with --pod-per
// file and with --shards N, against one bare pod running plain pytest on
// the whole suite in the same image; rounds rotate which goes first.
func b6(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B6", Name: "grouped pods, real suite (CLI / one plain pytest pod)",
		Target: fmt.Sprintf("file ≤ %.1f, shards ≤ %.1f", B6FileTarget, B6ShardsTarget), Pass: true}
	rs, err := s.RealSuite(ctx, o.RealSelect)
	if err != nil {
		return f, err
	}
	shards := strconv.Itoa(o.B6Shards)
	arms := []struct {
		name string
		args []string
	}{
		{"plain pytest", nil},
		{"pod-per file", []string{"--pod-per", "file"}},
		{"shards " + shards, []string{"--shards", shards}},
	}
	var walls [3]time.Duration
	for r := 0; r < o.B6Rounds; r++ {
		for k := range arms {
			arm := (r + k) % len(arms)
			if err := settle(ctx, o.Settle); err != nil {
				return f, err
			}
			s.Log.Info("B6 run", "arm", arms[arm].name, "tests", len(rs.IDs), "round", r+1)
			var wall time.Duration
			var detail string
			if arm == 0 {
				run, err := s.plainPytest(ctx, rs)
				if err != nil {
					return f, fmt.Errorf("plain pytest: %w", err)
				}
				s.runs.plain = append(s.runs.plain, run.suites)
				wall = run.wall
				detail = fmt.Sprintf("pytest exit %d, pytest's own time %s", run.exitCode, run.pytestTime)
			} else {
				run, err := s.cliRun(ctx, rs, fmt.Sprintf("%s-%d", strings.ReplaceAll(arms[arm].name, " ", "-"), r+1), o.B6P, arms[arm].args...)
				if err != nil {
					return f, fmt.Errorf("k8s-testrun run %s: %w", strings.Join(arms[arm].args, " "), err)
				}
				if s.runs.cli == nil {
					s.runs.cli = map[string]junit.Testsuites{}
				}
				s.runs.cli[arms[arm].name] = run.suites
				wall = run.wall
				detail = fmt.Sprintf("exit %d, %d test pods; %s", run.exitCode, run.pods, run.phases)
			}
			walls[arm] += wall
			f.Notes = append(f.Notes, fmt.Sprintf("round %d %-13s %6.1fs  %s", r+1, arms[arm].name, wall.Seconds(), detail))
		}
	}
	fileRatio := walls[1].Seconds() / walls[0].Seconds()
	shardsRatio := walls[2].Seconds() / walls[0].Seconds()
	f.Pass = fileRatio <= B6FileTarget && shardsRatio <= B6ShardsTarget
	f.Value = fmt.Sprintf("pod-per file %.2f, shards %s %.2f", fileRatio, shards, shardsRatio)
	f.Notes = append(f.Notes,
		fmt.Sprintf("B6 real-suite pod-per file %.1fs / plain pytest %.1fs (N=%d, %d rounds) ratio %.2f", walls[1].Seconds(), walls[0].Seconds(), len(rs.IDs), o.B6Rounds, fileRatio),
		fmt.Sprintf("B6 real-suite shards %s %.1fs / plain pytest %.1fs (N=%d, %d rounds) ratio %.2f", shards, walls[2].Seconds(), walls[0].Seconds(), len(rs.IDs), o.B6Rounds, shardsRatio))
	return f, nil
}

type plainRun struct {
	wall       time.Duration
	exitCode   int32
	pytestTime string
	suites     junit.Testsuites
}

// plainPytest runs the whole suite with plain pytest in one bare pod of
// the suite's test image, writing pytest's JUnit file to the pod's log
// after pytest exits. The wall time runs from just before the pod is
// created to the watch seeing it end, as for B1's bare pods.
func (s *Session) plainPytest(ctx context.Context, rs *RealSuite) (plainRun, error) {
	runID := newRunID()
	defer func() {
		if err := s.cleanRun(ctx, runID); err != nil {
			s.Log.Warn("cleaning up", "run", runID, "error", err)
		}
	}()
	pytest := "python -m pytest -p no:cacheprovider --junitxml=/tmp/plain.xml"
	for _, a := range rs.Selection {
		pytest += " " + shellQuote(a)
	}
	script := pytest + "; rc=$?; echo '" + junitMarker + "'; cat /tmp/plain.xml; exit $rc"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("ktr-%s-plain", runID),
			Namespace: s.Namespace,
			Labels:    map[string]string{k8s.LabelRun: runID, k8s.LabelRole: "plain"},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			EnableServiceLinks: ptr.To(false),
			Containers: []corev1.Container{{
				Name:       k8s.TestContainer,
				Image:      rs.Image,
				Command:    []string{"sh", "-c", script},
				WorkingDir: layout.WorkDir,
			}},
		},
	}
	var run plainRun
	var end time.Time
	var log []byte
	start := time.Now()
	err := PodDriver{
		Client: s.Cluster.Client, Namespace: s.Namespace, Selector: k8s.RunSelector(runID),
		Parallelism: 1, Pods: []*corev1.Pod{pod}, AcceptFailed: true,
		OnDone: func(ctx context.Context, p *corev1.Pod) error {
			end = time.Now()
			run.exitCode, _ = testExitCode(p)
			var err error
			log, err = k8s.Logs(ctx, s.Cluster.Client, s.Namespace, p.Name, k8s.TestContainer, 0)
			return err
		},
	}.Run(ctx)
	if err != nil {
		return run, err
	}
	run.wall = end.Sub(start)
	out, xml, ok := strings.Cut(string(log), junitMarker+"\n")
	if !ok {
		return run, fmt.Errorf("pod %s printed no JUnit file (exit %d):\n%s", pod.Name, run.exitCode, lastLines(string(log), 20))
	}
	if run.exitCode != 0 && run.exitCode != 1 {
		return run, fmt.Errorf("pytest exited %d:\n%s", run.exitCode, lastLines(out, 20))
	}
	if run.suites, err = junit.Parse(strings.NewReader(xml)); err != nil {
		return run, fmt.Errorf("pytest's JUnit file: %w", err)
	}
	run.pytestTime = pytestSessionTime(out)
	return run, nil
}

// pytestSummary matches the time on pytest's closing line, e.g.
// "5 failed, 723 passed, 18 skipped in 2.53s".
var pytestSummary = regexp.MustCompile(` in ([0-9.]+s)\b`)

func pytestSessionTime(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if m := pytestSummary.FindStringSubmatch(lines[i]); m != nil {
			return m[1]
		}
	}
	return "?"
}

type cliResult struct {
	wall     time.Duration
	exitCode int
	pods     int
	phases   string
	suites   junit.Testsuites
}

// cliRun runs the built k8s-testrun binary on the real suite's project,
// as a user would with the suite's base image, and reads its JUnit report.
// When its progress lines arrive gives the time of each phase.
func (s *Session) cliRun(ctx context.Context, rs *RealSuite, name string, parallelism int, extra ...string) (cliResult, error) {
	var res cliResult
	dir := filepath.Join(s.Dir, "cli", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	junitPath := filepath.Join(dir, "junit.xml")
	args := []string{"run",
		"--kubeconfig", s.Kubeconfig, "--namespace", s.Namespace,
		"--repository", s.Registry + "/ktr-bench/realsuite-cli", "--base-image", rs.Base,
		"--parallelism", strconv.Itoa(parallelism),
		"--junit", junitPath, "--artifacts", filepath.Join(dir, "artifacts"),
	}
	args = append(append(args, extra...), rs.Dir)
	if len(rs.Selection) > 0 {
		args = append(append(args, "--"), rs.Selection...)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return res, err
	}
	defer stderr.Close()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		return res, err
	}
	defer stdout.Close()
	clock := newPhaseClock(markDiscover, markRun)
	cmd := exec.CommandContext(ctx, s.Binary, args...)
	cmd.Stdout, cmd.Stderr = stdout, io.MultiWriter(stderr, clock)
	s.Log.Debug("running", "cmd", s.Binary+" "+strings.Join(args, " "))
	start := time.Now()
	err = cmd.Run()
	res.wall = time.Since(start)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 1:
		res.exitCode = 1 // tests failed, as five of the suite do
	default:
		b, _ := os.ReadFile(stderr.Name())
		return res, fmt.Errorf("%w:\n%s", err, lastLines(string(b), 20))
	}
	fh, err := os.Open(junitPath)
	if err != nil {
		return res, err
	}
	defer fh.Close()
	if res.suites, err = junit.Parse(fh); err != nil {
		return res, fmt.Errorf("%s: %w", junitPath, err)
	}
	res.pods = countPods(res.suites)
	res.phases = clock.phases(start, res.wall)
	return res, nil
}

// countPods counts the distinct pods the report names.
func countPods(ts junit.Testsuites) int {
	pods := map[string]bool{}
	for _, s := range ts.Suites {
		for _, tc := range s.Testcases {
			if p, ok := tc.Property(junit.PropertyPod); ok {
				pods[p] = true
			}
		}
	}
	return len(pods)
}

// The CLI's progress lines on stderr that start its phases.
const (
	markDiscover = "k8s-testrun: discovering tests"
	markRun      = "k8s-testrun: running "
)

// phaseClock is a writer that notes when a line holding each marker first
// arrived: the CLI's progress lines carry no time of their own.
type phaseClock struct {
	mu      sync.Mutex
	partial []byte
	markers []string
	marks   map[string]time.Time
}

func newPhaseClock(markers ...string) *phaseClock {
	return &phaseClock{markers: markers, marks: map[string]time.Time{}}
}

func (c *phaseClock) Write(p []byte) (int, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		line := string(c.partial[:i])
		c.partial = c.partial[i+1:]
		for _, m := range c.markers {
			if _, seen := c.marks[m]; !seen && strings.Contains(line, m) {
				c.marks[m] = now
			}
		}
	}
	return len(p), nil
}

func (c *phaseClock) mark(m string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.marks[m]
}

// phases says how long each phase of a CLI run took: to discovery
// (process start, preflight, build and push), discovery, and the run with
// the report and cleanup.
func (c *phaseClock) phases(start time.Time, wall time.Duration) string {
	d, r := c.mark(markDiscover), c.mark(markRun)
	if d.IsZero() || r.IsZero() {
		return "phases not found in the progress lines"
	}
	sec := func(a, b time.Time) float64 { return b.Sub(a).Seconds() }
	return fmt.Sprintf("start+build %.1fs, discover %.1fs, run+report+cleanup %.1fs",
		sec(start, d), sec(d, r), sec(r, start.Add(wall)))
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
