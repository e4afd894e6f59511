package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/runner"
)

// B8's targets: the runner's and the operator's pods per second against the
// bare creator's, measured side by side, and their peak resident sets.
const (
	B8Target      = 0.9
	B8RunnerRSS   = 100 << 20
	B8OperatorRSS = 150 << 20
)

// b8Arm is one of B8's four ways of running the same pods.
type b8Arm struct {
	Name string
	// Pods ended in Wall.
	Pods int
	Wall time.Duration
	// RSS is the process's peak resident set (VmHWM); 0 for the bare
	// creator, which runs in the harness.
	RSS int64
	// APICPU is the API server's CPU seconds during the arm; negative when
	// it could not be read.
	APICPU float64
	Notes  []string
}

func (a b8Arm) podsPerSecond() float64 { return rate(a.Pods, a.Wall) }

// b8Verdict fills the figure from the arms: the runner's and the
// operator's pace over the bare creator's (which creates the runner's own
// pods) must reach B8Target, and their peak resident sets stay within their
// bounds. withLog, the bare creator that also reads each ended pod's
// collector log once as the runner does, only shows what that read costs;
// it decides nothing.
func b8Verdict(f *Figure, bare, runner, operator, withLog b8Arm) {
	base := bare.podsPerSecond()
	ratio := func(a b8Arm) float64 {
		if base == 0 {
			return 0
		}
		return a.podsPerSecond() / base
	}
	rr, ro := ratio(runner), ratio(operator)
	f.Pass = rr >= B8Target && ro >= B8Target && runner.RSS > 0 && runner.RSS <= B8RunnerRSS && operator.RSS > 0 && operator.RSS <= B8OperatorRSS
	f.Value = fmt.Sprintf("runner %.2f, operator %.2f of bare's %.1f pods/s; peak RSS runner %s, operator %s",
		rr, ro, base, megabytes(runner.RSS), megabytes(operator.RSS))
	for _, a := range []b8Arm{bare, runner, operator, withLog} {
		line := fmt.Sprintf("%-8s %5d pods in %8s: %6.1f pods/s", a.Name, a.Pods, a.Wall.Round(time.Millisecond), a.podsPerSecond())
		if a.RSS > 0 {
			line += ", peak RSS " + megabytes(a.RSS)
		}
		if a.APICPU >= 0 {
			line += fmt.Sprintf("; API server CPU %.1f s (%.1f ms per pod, %.2f cores)",
				a.APICPU, 1000*a.APICPU/float64(max(a.Pods, 1)), a.APICPU/max(a.Wall.Seconds(), 1e-9))
		}
		f.Notes = append(f.Notes, line)
		for _, n := range a.Notes {
			f.Notes = append(f.Notes, "  "+n)
		}
	}
	f.Notes = append(f.Notes, fmt.Sprintf("runner / bare %.2f, operator / bare %.2f (target ≥ %.2f); runner RSS ≤ %d MB %s, operator RSS ≤ %d MB %s",
		rr, ro, B8Target, B8RunnerRSS>>20, met(runner.RSS > 0 && runner.RSS <= B8RunnerRSS), B8OperatorRSS>>20, met(operator.RSS > 0 && operator.RSS <= B8OperatorRSS)))
	if withLog.Pods > 0 {
		base := withLog.podsPerSecond()
		f.Notes = append(f.Notes, fmt.Sprintf("reference, not a target: over the bare creator that also reads each pod's collector log (%.1f pods/s, %.2f of bare's), the runner runs at %.2f, the operator at %.2f",
			base, base/max(bare.podsPerSecond(), 1e-9), runner.podsPerSecond()/base, operator.podsPerSecond()/base))
	}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func megabytes(b int64) string {
	if b <= 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
}

// b8 runs the same number of fake pods four ways, one after another, on
// kwok's fake nodes at the same parallelism and with the same client rate
// limits: a bare client-go creator of the runner's pods, the runner (direct
// mode, in a child process as B5 runs it), the operator (a child process
// reconciling one TestRun that names every test) and, as a reference, the
// bare creator reading each pod's collector log. Fake pods have no
// collector log, so the runner and the operator record a result error for
// each, as in B5.
func b8(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B8", Name: "dispatch at scale (pods/s over a bare creator's; peak RSS)",
		Target: fmt.Sprintf("≥ %.2f each; RSS runner ≤ %d MB, operator ≤ %d MB", B8Target, B8RunnerRSS>>20, B8OperatorRSS>>20)}
	bin, err := kwokBinary(ctx, o.Kwok, s)
	if err != nil {
		return f, err
	}
	s.Log.Info("B8: starting kwok", "nodes", o.B8Nodes)
	kwok, err := s.StartKwokNodes(ctx, bin, o.B8Nodes)
	defer func() {
		if kwok != nil {
			kwok.Stop()
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		s.deleteKwokNode(cctx)
	}()
	if err != nil {
		return f, err
	}
	// The CRDs are there before the first arm, as an operator's are before
	// its runs: the cluster's garbage collector, which learns of new
	// resources every 30 s, reads the owner of every TestCase and pod past
	// its cache until it watches them.
	removeCRDs, err := s.ensureCRDs(ctx)
	if err != nil {
		return f, err
	}
	defer removeCRDs()
	f.Notes = append(f.Notes, fmt.Sprintf("%d tests at parallelism %d on %d kwok %s nodes; client QPS %g, burst %d for every arm; arms in the order bare, runner, operator, bare+log",
		o.B8N, o.B8P, o.B8Nodes, KwokVersion, o.B8QPS, o.B8Burst))
	nudger := &kwokNudger{Client: s.Cluster.Client, Namespace: s.Namespace, After: 5 * time.Second, Every: 2 * time.Second}
	if err := nudger.Start(ctx); err != nil {
		return f, err
	}
	defer nudger.Stop()
	var arms [4]b8Arm
	for i, run := range []func(context.Context, *Session, Options) (b8Arm, error){b8Bare, b8Runner, b8Operator, b8BareLog} {
		if err := settle(ctx, o.Settle); err != nil {
			return f, err
		}
		m0, err0 := ReadMetrics(ctx, s.Cluster.Client)
		nudger.Take()
		arm, err := run(ctx, s, o)
		if err != nil {
			return f, err
		}
		m1, err1 := ReadMetrics(ctx, s.Cluster.Client)
		if err0 == nil && err1 == nil {
			arm.Notes = append(arm.Notes, requestsPerPod(m1.Requests.Sub(m0.Requests), arm.Pods, 8))
		}
		if pending, running := nudger.Take(); pending+running > 0 {
			arm.Notes = append(arm.Notes, fmt.Sprintf("%d nudges of Pending pods, %d of Running ones: pods that kwok left unchanged for 5 s got an annotation patched, a new event for kwok",
				pending, running))
		}
		arm.APICPU = -1
		if err0 == nil && err1 == nil && m0.CPU >= 0 && m1.CPU >= m0.CPU {
			arm.APICPU = m1.CPU - m0.CPU
		}
		s.Log.Info("B8 arm", "arm", arm.Name, "pods", arm.Pods, "wall", arm.Wall.Round(time.Millisecond), "pods/s", fmt.Sprintf("%.1f", arm.podsPerSecond()))
		arms[i] = arm
	}
	b8Verdict(&f, arms[0], arms[1], arms[2], arms[3])
	return f, nil
}

// requestsPerPod names the top requests to the API server during an arm
// (the whole cluster's: kwok's and the scheduler's too), per pod.
func requestsPerPod(c RequestCounts, pods, top int) string {
	var parts []string
	total := 0.0
	for _, k := range c.Keys() {
		if c[k] <= 0 {
			continue
		}
		total += c[k]
		if len(parts) < top {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, c[k]/float64(max(pods, 1))))
		}
	}
	return fmt.Sprintf("API requests per pod (whole cluster) %.2f: %s", total/float64(max(pods, 1)), strings.Join(parts, ", "))
}

// b8Template is what puts B8's pods on the session's fake nodes.
func (s *Session) b8Template() *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		NodeSelector: map[string]string{LabelBench: s.ID},
		Tolerations:  []corev1.Toleration{{Key: kwokTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
	}}
}

// b8IDs are the test ids of B8's simulated suite, as B5's.
func b8IDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("tests/test_trivial_%03d.py::test_%04d", i/testsPerFile, i)
	}
	return ids
}

// b8Bare is the baseline: the bare creator creates the very pods the
// runner creates for the same tests (test container and collector, built
// by k8s.TestPod with the runner's options), so that runner / bare is the
// runner's own cost and not the pods' weight.
func b8Bare(ctx context.Context, s *Session, o Options) (b8Arm, error) {
	return b8BareWith(ctx, s, o, "bare", false)
}

// b8TestPod is the pod of the first attempt of c that the runner of B8's
// child creates (runner.Options as runChild sets them).
func (s *Session) b8TestPod(runID string, c plan.Case) (*corev1.Pod, error) {
	return k8s.TestPod(k8s.TestPodOptions{
		Namespace: s.Namespace, RunID: runID, Case: c, Attempt: 1, Image: s.BaseImage,
		Timeout: caseTimeout, NativeSidecar: s.Native, Template: s.b8Template(), ServiceTimeout: runner.DefaultPendingTimeout,
	})
}

// b8BareLog is the bare creator that reads each ended pod's collector log
// once before its delete, as the runner's collection does: a reference
// beside the baseline, for what that one read costs the API server. A fake
// pod's read fails, as the runner's does.
func b8BareLog(ctx context.Context, s *Session, o Options) (b8Arm, error) {
	return b8BareWith(ctx, s, o, "bare+log", true)
}

func b8BareWith(ctx context.Context, s *Session, o Options, name string, readLog bool) (b8Arm, error) {
	arm := b8Arm{Name: name}
	cluster, err := k8s.Connect(k8s.ClientOptions{Kubeconfig: s.Kubeconfig, QPS: float32(o.B8QPS), Burst: o.B8Burst})
	if err != nil {
		return arm, err
	}
	runID := newRunID()
	defer func() {
		if err := s.cleanRun(ctx, runID); err != nil {
			s.Log.Warn("cleaning up", "run", runID, "error", err)
		}
	}()
	cases := Cases(b8IDs(o.B8N))
	pods := make([]*corev1.Pod, o.B8N)
	for i := range pods {
		if pods[i], err = s.b8TestPod(runID, cases[i]); err != nil {
			return arm, err
		}
	}
	s.Log.Info("B8 bare creator", "arm", name, "pods", o.B8N, "in flight", o.B8P, "containers", len(pods[0].Spec.Containers)+len(pods[0].Spec.InitContainers))
	bc := BareCreator{
		Client: cluster.Client, Namespace: s.Namespace, Selector: k8s.RunSelector(runID),
		N: o.B8N, InFlight: o.B8P, Stall: 2 * time.Minute,
		Pod: func(i int) *corev1.Pod { return pods[i] },
	}
	var logErrors atomic.Int64
	if readLog {
		bc.AfterEnd = func(ctx context.Context, p *corev1.Pod) {
			if _, err := k8s.LogsWithin(ctx, cluster.Client, p.Namespace, p.Name, k8s.CollectorContainer, 1<<20); err != nil {
				logErrors.Add(1)
			}
		}
	}
	res, err := bc.Run(ctx)
	if err != nil {
		return arm, fmt.Errorf("bare creator: %w", err)
	}
	arm.Pods, arm.Wall = res.Ended, res.Wall
	arm.Notes = append(arm.Notes, fmt.Sprintf("created %d, ended %d (%d Failed), at most %d in flight", res.Created, res.Ended, res.Failed, res.MaxInFlight))
	if readLog {
		arm.Notes = append(arm.Notes, fmt.Sprintf("collector logs read %d, %d of them failed (fake pods have no log)", res.Ended, logErrors.Load()))
	}
	return arm, nil
}

func b8Runner(ctx context.Context, s *Session, o Options) (b8Arm, error) {
	arm := b8Arm{Name: "runner"}
	self, err := os.Executable()
	if err != nil {
		return arm, err
	}
	runID := newRunID()
	defer func() {
		if err := s.cleanRun(ctx, runID); err != nil {
			s.Log.Warn("cleaning up", "run", runID, "error", err)
		}
	}()
	s.Log.Info("B8 runner", "cases", o.B8N, "parallelism", o.B8P)
	cmd := exec.CommandContext(ctx, self, childCommand,
		"-namespace", s.Namespace, "-run-id", runID, "-image", s.BaseImage,
		"-n", strconv.Itoa(o.B8N), "-p", strconv.Itoa(o.B8P),
		"-node-label", LabelBench+"="+s.ID, "-native="+strconv.FormatBool(s.Native),
		"-kube-api-qps", strconv.FormatFloat(o.B8QPS, 'g', -1, 64), "-kube-api-burst", strconv.Itoa(o.B8Burst))
	cmd.Env = append(os.Environ(), EnvKubeconfig+"="+s.Kubeconfig)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return arm, fmt.Errorf("runner child: %w", err)
	}
	rep, err := lastReport(out.Bytes())
	if err != nil {
		return arm, err
	}
	if rep.Final != rep.Cases || rep.Cases != o.B8N {
		return arm, fmt.Errorf("the runner finished %d of %d cases (of %d asked)", rep.Final, rep.Cases, o.B8N)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	arm.Pods, arm.Wall, arm.RSS = rep.Cases, rep.Wall, rep.VmHWM
	arm.Notes = append(arm.Notes,
		fmt.Sprintf("passed %d, result errors %d (fake pods have no collector log); runner CPU %.1f s; Go heap from the system at the end %s",
			rep.Passed, rep.ResultErrors, cpu.Seconds(), megabytes(int64(rep.HeapSys))))
	return arm, nil
}

// ParseProcessCPU finds process_cpu_seconds_total in a Prometheus text
// exposition.
func ParseProcessCPU(text []byte) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no process_cpu_seconds_total in the metrics")
}

// processPeakRSS reads VmHWM from /proc/PID/status.
func processPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in the process status")
}

// jsonRaw encodes v for a RawExtension.
func jsonRaw(v any) ([]byte, error) { return json.Marshal(v) }
