package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/collectcache"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/runner"
)

// cleanupTimeout bounds the deletion of a run's pods after it ends, however
// it ended; GitHub leaves 7.5 s between SIGINT and SIGTERM.
const cleanupTimeout = 7 * time.Second

// runCommand carries out `k8s-testrun run` with its flags parsed into cfg.
func runCommand(ctx context.Context, cfg config.Config, env Env) (int, error) {
	defer LimitMemory(env.Getenv)()
	if line := nothingToRerun(cfg); line != "" {
		fmt.Fprintln(env.Stderr, line)
		return ExitOK, nil
	}
	var err error
	if cfg.Binary, err = podBinary(cfg.Binary, env); err != nil {
		return ExitInfra, err
	}
	out := newRunOutput(cfg, env)
	defer out.progress.Close()
	p, err := newPipeline(cfg, out.log, env.environ())
	if err != nil {
		return ExitInfra, err
	}
	// pytest's collection output goes unfenced to the terminal, which may be
	// a CI runner's log.
	p.stderr = logtext.NewWriter(env.Stderr)
	out.attach(p)
	rep, err := p.execute(ctx)
	mem, herr := remember(ctx, cfg, rep, err, p.facts())
	err = cmpOrErr(err, herr)
	code := ExitInfra
	if err == nil {
		code = p.opRecall.exitCode(cfg.FailOn, mem.exitCode(cfg.FailOn, rep.ExitCode(ExitOK, ExitTestsFailed, ExitInfra)))
	}
	sum := summaryOf(rep, code)
	sum.Comparison, sum.NotAffected = mem.comparison(), p.notAffected
	out.progress.Finish(sum)
	if rep != nil {
		printSummary(out.summary, rep)
		mem.print(out.summary)
		p.printOperatorComparison(out.summary)
		if p.affectedNote != "" {
			fmt.Fprintln(out.summary, p.affectedNote)
		}
		if p.planNote != "" {
			fmt.Fprintln(out.summary, p.planNote)
		}
		for _, l := range rep.ExpiredQuarantine() {
			fmt.Fprintln(env.Stderr, "k8s-testrun: warning: "+logtext.Line(l))
		}
	}
	if rss, err := PeakRSS(); err == nil {
		out.log.Debug("peak memory", "vmhwm_bytes", rss)
	}
	return code, err
}

type pipeline struct {
	cfg      config.Config
	log      *slog.Logger
	cluster  *k8s.Cluster
	template *corev1.PodTemplateSpec
	runID    string
	// onAttempt, if set, hears of every collected attempt.
	onAttempt func(plan.Case, attempt.Attempt)
	// onPod, if set, hears of pods whose tests start running, and end.
	onPod func(runner.PodEvent)
	// onStart, if set, hears how many tests are about to run, and their
	// durations in earlier runs, by test ID, when a durations file holds
	// them.
	onStart func(tests int, durations map[string]time.Duration)
	// onPhase, if set, hears when each phase begins, with the phase's
	// name: phaseBuild, phaseDiscover, phaseRun; the action groups its log
	// by them.
	onPhase func(phase string)
	// image is the built image, once built; in a runtime matrix, the
	// first base's.
	image build.Result
	// baseLabels name the bases of a runtime matrix, once discovered
	// (report.Report.BaseLabels); nil for one base.
	baseLabels []string
	// stderr receives text meant for a person, such as pytest's output.
	stderr io.Writer
	// environ is the process environment; the build keeps only what pip
	// needs of it.
	environ []string
	// onKindNetwork says this process's container joined the kind network
	// (reachKind); insecureRegistry, that the repository is a local
	// registry the cluster advertised, which speaks plain HTTP.
	onKindNetwork, insecureRegistry bool
	// collections keeps what discovery found beside the test image, and a
	// record of it on this machine; nil runs discovery every time.
	collections *collectcache.Cache
	// footprints are, with coverage in per-test pods, each test's
	// executed files and their hashes, for the history store.
	footprints map[string]map[string]string
	// notAffected counts the tests --affected-since left out, and
	// affectedNote says so in the summaries; "" when none.
	notAffected  int
	affectedNote string
	// opRecall is what the operator compared, in operator mode.
	opRecall *operatorRecall
	// planNote says what --pod-per auto chose, for the summaries; "" for
	// the other modes.
	planNote string
}

// newPipeline is the run of cfg by a process whose environment is environ.
func newPipeline(cfg config.Config, log *slog.Logger, environ []string) (*pipeline, error) {
	tmpl, err := k8s.ParseTemplate(cfg.PodTemplate)
	if err != nil {
		return nil, fmt.Errorf("%w; fix %s", err, cfg.PodTemplatePath)
	}
	cluster, err := k8s.Connect(k8s.ClientOptions{
		Kubeconfig: cfg.Kubeconfig, KubeconfigData: cfg.KubeconfigData,
		Context: cfg.Context, Namespace: cfg.Namespace,
		QPS: cfg.KubeAPIQPS, Burst: cfg.KubeAPIBurst,
	})
	if err != nil {
		return nil, fmt.Errorf("%w; give a valid --kubeconfig or set KUBECONFIG", err)
	}
	return &pipeline{cfg: cfg, log: log, cluster: cluster, template: tmpl, runID: newRunID(), stderr: io.Discard,
		environ: environ, collections: newCollectionCache(environ, log)}, nil
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// execute carries out build, discover and run, and writes the JUnit
// report. The run's pods are deleted on every path out, under a context of
// their own. The report is nil when no test ran; with a report, the error
// says why the run ended early.
func (p *pipeline) execute(ctx context.Context) (*report.Report, error) {
	if p.cfg.Mode == config.ModeOperator {
		return p.executeOperator(ctx)
	}
	start := time.Now()
	if err := p.preflight(ctx); err != nil {
		return nil, err
	}
	apiSrc, err := p.apiCoverageSource()
	if err != nil {
		return nil, err
	}
	defer p.cleanup(ctx)

	p.phase(phaseBuild)
	bases, err := p.buildBases(ctx)
	if err != nil {
		return nil, err
	}
	p.phase(phaseDiscover)
	if err := p.discoverBases(ctx, bases); err != nil {
		return nil, err
	}
	p.baseLabels = (&report.Report{Bases: reportBases(bases)}).BaseLabels()
	if err := checkQuarantine(p.cfg.QuarantineList, bases, len(p.cfg.Selection) > 0, p.log); err != nil {
		return nil, err
	}
	cases, skipped, err := p.selectCases(ctx, bases)
	if err != nil {
		return nil, err
	}
	faketimeLib, err := faketimeLibrary(bases)
	if err != nil {
		return nil, err
	}
	covDir, err := p.coverageDir()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(covDir)
	past, err := p.loadDurations()
	if err != nil {
		return nil, err
	}
	p.phase(phaseRun)
	if p.onStart != nil {
		p.onStart(len(cases), past)
	}
	p.log.Info("running tests", "run", p.runID, "tests", len(cases), "parallelism", p.cfg.Parallelism, "namespace", p.cluster.Namespace)
	native, err := p.nativeSidecar(ctx)
	if err != nil {
		return nil, err
	}
	overhead, err := p.loadOverhead()
	if err != nil {
		return nil, err
	}
	units := p.groupUnits(cases, past, overhead)
	// The tests' artifacts wait for the report on disk.
	spill, err := os.MkdirTemp("", "k8s-testrun-artifacts-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for the tests' artifacts: %w", err)
	}
	defer os.RemoveAll(spill)
	results, runErr := runner.Run(ctx, p.runnerOptions(runSetup{
		cases: cases, units: units, start: start, native: native,
		faketimeLib: faketimeLib, covDir: covDir, spill: spill,
	}))
	return p.finishRun(ctx, runOutcome{
		start: start, bases: bases, skipped: skipped, results: results, runErr: runErr,
		apiSrc: apiSrc, covDir: covDir, past: past,
	})
}

// selectCases lists the cases of every base, drops those the change does
// not affect, and returns them with the results of the tests skipped at
// collection or not affected.
func (p *pipeline) selectCases(ctx context.Context, bases []*base) ([]plan.Case, []report.CaseResult, error) {
	var cases []plan.Case
	var skipped []report.CaseResult
	for i, b := range bases {
		bc, err := p.casesOf(ctx, i, b)
		if err != nil {
			return nil, nil, err
		}
		cases = append(cases, bc...)
		skipped = append(skipped, report.SkippedAtCollection(b.found.Skipped, i)...)
	}
	cases, notAffected, err := p.affected(ctx, cases)
	if err != nil {
		return nil, nil, err
	}
	return cases, append(skipped, notAffected...), nil
}

// groupUnits groups the cases into the pods' units and, with --pod-per
// auto, logs and keeps the note that explains the choice.
func (p *pipeline) groupUnits(cases []plan.Case, past map[string]time.Duration, overhead time.Duration) []plan.Unit {
	grouping := plan.Grouping{PodPer: p.cfg.PodPer, Shards: p.cfg.Shards, Durations: past, Slots: p.cfg.Parallelism, Overhead: overhead}
	units := plan.GroupBases(cases, grouping)
	if p.cfg.PodPer == config.PodPerAuto && p.cfg.Shards <= 0 {
		p.planNote = plan.DescribeAuto(cases, grouping, units, overhead > 0)
		p.log.Info(p.planNote)
	}
	return units
}

// runSetup is what execute prepared for the runner.
type runSetup struct {
	cases       []plan.Case
	units       []plan.Unit
	start       time.Time
	native      bool
	faketimeLib string
	covDir      string
	spill       string
}

// runnerOptions returns the runner's options for the run execute prepared.
func (p *pipeline) runnerOptions(rs runSetup) runner.Options {
	return runner.Options{
		Client:         p.cluster.Client,
		Namespace:      p.cluster.Namespace,
		RunID:          p.runID,
		Image:          p.image.Image,
		Cases:          rs.cases,
		Units:          rs.units,
		Parallelism:    p.cfg.Parallelism,
		MaxAttempts:    p.cfg.Retries + 1,
		MaxFailures:    p.cfg.MaxFailures,
		Excused:        excusedCases(p.cfg.QuarantineList, rs.cases, rs.start),
		InfraRetries:   p.cfg.InfraRetries,
		Timeout:        p.cfg.Timeout,
		SlowTimeout:    p.cfg.EffectiveSlowTimeout(),
		FlakyAttempts:  p.cfg.FlakyRetries + 1,
		PendingTimeout: p.cfg.PendingTimeout,
		NativeSidecar:  rs.native,
		Template:       p.template,
		ResultLimit:    p.cfg.ResultLimit,
		Logger:         p.log,
		OnAttempt:      p.onAttempt,
		OnPod:          p.onPod,

		FaketimeLibrary: rs.faketimeLib,
		CoverageDir:     rs.covDir,
		SpillDir:        rs.spill,
		NodeLostAfter:   p.cfg.NodeLostAfter,
	}
}

// runOutcome is what execute carries from the run into the report.
type runOutcome struct {
	start   time.Time
	bases   []*base
	skipped []report.CaseResult
	results []report.CaseResult
	runErr  error
	apiSrc  auditSource
	covDir  string
	past    map[string]time.Duration
}

// finishRun builds the report of the run, writes it, combines coverage and
// saves durations and overhead; the error says why the run ended early.
func (p *pipeline) finishRun(ctx context.Context, o runOutcome) (*report.Report, error) {
	// Modules pytest skipped at collection ran in no pod; they lead the
	// report, as they lead pytest's own.
	rep := report.NewReport(p.runID, p.image.Image, p.image.Digest.String(), o.start, time.Since(o.start), append(o.skipped, o.results...))
	rep.Bases = reportBases(o.bases)
	rep.Quarantine = p.cfg.QuarantineList
	apiErr := p.measureAPICoverage(ctx, o.apiSrc, rep)
	if err := p.writeReport(rep); err != nil {
		return rep, err
	}
	if o.covDir != "" && o.runErr == nil {
		if err := p.combineCoverage(ctx, o.covDir, rep); err != nil {
			return rep, err
		}
	}
	if err := p.saveDurations(o.past, o.results); err != nil {
		return rep, err
	}
	if err := p.saveOverhead(rep); err != nil {
		return rep, err
	}
	if o.runErr != nil {
		return rep, fmt.Errorf("run %s: %w", p.runID, o.runErr)
	}
	return rep, apiErr
}

// Phases of execute, as onPhase names them.
const (
	phaseBuild    = "build"
	phaseDiscover = "discover"
	phaseRun      = "run"
)

func (p *pipeline) phase(name string) {
	if p.onPhase != nil {
		p.onPhase(name)
	}
}

// preflight asks the API server, with a dry-run pod create, whether the
// namespace exists, the credentials may create pods there, and the pod
// template is valid, before spending time on a build.
func (p *pipeline) preflight(ctx context.Context) error {
	pod, err := k8s.TestPod(k8s.TestPodOptions{
		Namespace: p.cluster.Namespace, RunID: p.runID, Attempt: 1,
		Case:  plan.Case{ID: "preflight", TestID: "preflight"},
		Image: "preflight.invalid/image", Template: p.template,
	})
	if err != nil {
		return err
	}
	_, err = p.cluster.Client.CoreV1().Pods(p.cluster.Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil {
		return nil
	}
	var urlErr *url.Error
	var netErr net.Error
	if errors.As(err, &urlErr) || errors.As(err, &netErr) {
		return fmt.Errorf("cluster %s is unreachable: %w; check the kubeconfig's server address", p.cluster.Config.Host, err)
	}
	return k8s.Explain("checking that pods can be created in namespace "+p.cluster.Namespace, p.cluster.Namespace, err)
}

func (p *pipeline) build(ctx context.Context, baseImage string) (build.Result, error) {
	if err := p.localRegistry(ctx); err != nil {
		return build.Result{}, err
	}
	p.log.Info("building test image", "project", p.cfg.ProjectDir, "base", baseImage, "repository", p.cfg.Repository)
	opts := p.buildOptions(baseImage)
	opts.Faketime = p.cfg.Faketime != ""
	res, err := build.Build(ctx, opts)
	if err != nil {
		return res, fmt.Errorf("building the test image: %w", err)
	}
	if opts.Faketime && res.FaketimeLibrary == "" {
		return res, noFaketime(baseImage, "drop --faketime (the faketime input)")
	}
	p.log.Info("pushed test image", "image", res.Image, "uploaded_blobs", res.UploadedBlobs, "uploaded_bytes", res.UploadedBytes)
	// Pods name the image as the nodes reach the registry.
	if res.Image, err = pullReference(res.Image, p.cfg.PullRegistry); err != nil {
		return res, err
	}
	if p.cfg.PullRegistry != "" {
		p.log.Info("pods pull the test image from the pull registry", "image", res.Image)
	}
	return res, nil
}

func (p *pipeline) buildOptions(baseImage string) build.Options {
	osName, arch, _ := strings.Cut(p.cfg.Platform, "/")
	return build.Options{
		ProjectDir:   p.cfg.ProjectDir,
		Repository:   p.cfg.Repository,
		BaseImage:    baseImage,
		Requirements: p.cfg.Requirements,
		Binary:       p.cfg.Binary,
		Platform:     v1.Platform{OS: osName, Architecture: arch},
		Insecure:     p.insecureRegistry,
		Environ:      p.environ,
		Logger:       p.log,
	}
}

// noFaketime is the error of a run that needs libfaketime in a base image
// without it; drop says what else the user can do.
func noFaketime(baseImage, drop string) error {
	return fmt.Errorf("the base image %s has no libfaketime (no usr/lib/<arch>/faketime/libfaketime.so.1): "+
		"install Debian's libfaketime package in it (apt-get install libfaketime) or %s", baseImage, drop)
}

// checkFaketime makes sure, before any test pod runs, that the base image
// has libfaketime when a test's faketime marker needs it; --faketime was
// checked at the build.
func (p *pipeline) checkFaketime(ctx context.Context, b *base, cases []plan.Case, markers map[string]string) error {
	if len(markers) == 0 || b.image.FaketimeLibrary != "" {
		return nil
	}
	var first string
	for _, c := range cases {
		if _, ok := markers[c.TestID]; ok {
			first = c.TestID
			break
		}
	}
	if first == "" {
		return nil
	}
	lib, err := build.FaketimeLibrary(ctx, p.buildOptions(b.ref))
	if err != nil {
		return fmt.Errorf("looking for libfaketime in the base image: %w", err)
	}
	if lib == "" {
		where := first
		switch n := len(markers) - 1; {
		case n == 1:
			where += " and 1 other test"
		case n > 1:
			where += fmt.Sprintf(" and %d other tests", n)
		}
		return noFaketime(b.ref, "remove @pytest.mark.faketime from "+where)
	}
	b.image.FaketimeLibrary = lib
	return nil
}

// minDiscoveryTimeout is the least time collection gets: it imports the
// whole suite, which a short per-test timeout says nothing about.
const minDiscoveryTimeout = 10 * time.Minute

// discoveryTimeout bounds the discovery pod: the per-test timeout, but no
// less than minDiscoveryTimeout; zero (no timeout) stays zero.
func discoveryTimeout(perTest time.Duration) time.Duration {
	if perTest <= 0 {
		return 0
	}
	return max(perTest, minDiscoveryTimeout)
}

// discover finds the tests in b's image: from the collection cache when
// the image carries the collection of the same key, else in a discovery
// pod, whose collection the cache then keeps.
func (p *pipeline) discover(ctx context.Context, b *base, role string) (discover.Collection, error) {
	image := b.image.Image
	argv := discover.Command(layout.BinaryPath, p.cfg.Selection)
	if p.cfg.Coverage {
		argv = discover.WithCoverageCheck(argv)
	}
	key := p.collectionKey(b, argv)
	if found, ok := p.cachedCollection(ctx, b, key); ok {
		p.log.Info("tests from the collection cache, no discovery pod", "image", image, "tests", len(found.IDs))
		return found, nil
	}
	pod, err := k8s.OneOffPod(k8s.OneOffOptions{
		Namespace: p.cluster.Namespace, RunID: p.runID, Role: role,
		Image: image, Command: argv, Timeout: discoveryTimeout(p.cfg.Timeout), Template: p.template,
	})
	if err != nil {
		return discover.Collection{}, err
	}
	p.log.Info("discovering tests", "pod", pod.Name)
	out, log, err := k8s.RunOnce(ctx, p.cluster.Client, pod, k8s.ObserveOptions{PendingTimeout: p.cfg.PendingTimeout})
	if err != nil {
		return discover.Collection{}, fmt.Errorf("discovering tests: %w", err)
	}
	if out.Reason != "" && out.ExitCode < 0 {
		return discover.Collection{}, fmt.Errorf("discovering tests: %s: %s", out.Reason, out.Message)
	}
	found, err := discover.ParseLog(log, int(out.ExitCode))
	var collectErr *discover.CollectionError
	if errors.As(err, &collectErr) {
		// pytest's own words, as it printed them, before the one-line error.
		fmt.Fprintf(p.stderr, "pytest --collect-only output:\n%s\n", strings.TrimRight(collectErr.Output, "\n"))
	}
	if errors.Is(err, discover.ErrNoTests) && len(found.Skipped) > 0 {
		return discover.Collection{}, fmt.Errorf("no tests to run in %s (selection %q): pytest skipped every test module at collection (%s); install what they import or fix the selection after --", p.cfg.ProjectDir, p.cfg.Selection, found.SkippedNames(3))
	}
	if errors.Is(err, discover.ErrNoTests) {
		return discover.Collection{}, fmt.Errorf("no tests found in %s (selection %q): add test_*.py files or fix the selection after --", p.cfg.ProjectDir, p.cfg.Selection)
	}
	if err != nil {
		return discover.Collection{}, fmt.Errorf("discovering tests: %w", err)
	}
	p.storeCollection(ctx, b, key, log)
	return found, nil
}

func (p *pipeline) nativeSidecar(ctx context.Context) (bool, error) {
	switch p.cfg.Sidecar {
	case config.SidecarNative:
		return true, nil
	case config.SidecarContainer:
		return false, nil
	}
	return k8s.SupportsNativeSidecars(ctx, p.cluster.Client)
}

// cleanup deletes every pod of the run and waits briefly for them to go.
// It runs after every pod create has returned; a pod that appears while it
// waits is deleted too.
func (p *pipeline) cleanup(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	n, err := k8s.DeleteUntilGone(cctx, p.cluster.Client, p.cluster.Namespace, k8s.RunSelector(p.runID), ptr.To(int64(0)))
	if err != nil {
		p.log.Error("deleting the run's pods", "run", p.runID, "error", err)
		return
	}
	p.log.Debug("deleted the run's pods", "run", p.runID, "pods", n)
}

// writeReport writes the merged JUnit report and the tests' artifacts.
func (p *pipeline) writeReport(rep *report.Report) error {
	if err := writeJUnit(p.cfg.JUnitPath, rep); err != nil {
		return err
	}
	p.log.Info("wrote JUnit report", "path", p.cfg.JUnitPath)
	paths, err := writeTimeline(p.cfg.JUnitPath, rep)
	if err != nil {
		return err
	}
	p.log.Info("wrote timeline", "paths", paths)
	if err := writeAttempts(p.cfg.JUnitPath, rep); err != nil {
		return err
	}
	if p.cfg.ArtifactsDir == "" {
		return nil
	}
	n, err := rep.WriteArtifacts(p.cfg.ArtifactsDir)
	if skipped := (*report.ArtifactsSkippedError)(nil); errors.As(err, &skipped) {
		p.log.Warn("some artifacts were not written", "skipped", skipped.Error())
	} else if err != nil {
		return err
	}
	if n > 0 {
		p.log.Info("wrote artifacts", "files", n, "dir", p.cfg.ArtifactsDir)
	}
	return nil
}

// writeAttempts writes every attempt of every test, with its times and
// reason, beside the JUnit report.
func writeAttempts(junitPath string, rep *report.Report) error {
	path := filepath.Join(filepath.Dir(junitPath), report.AttemptsFile)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the attempts: %w", err)
	}
	if err := rep.WriteAttempts(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func writeJUnit(path string, rep *report.Report) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("junit path %q: %w", path, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("junit path %q: %w", path, err)
	}
	if err := rep.WriteJUnit(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// loadDurations reads the timing history, when a durations file or a
// history store is given.
func (p *pipeline) loadDurations() (map[string]time.Duration, error) {
	if p.cfg.DurationsFile == "" && p.cfg.History == "" {
		return nil, nil
	}
	d := map[string]time.Duration{}
	if p.cfg.DurationsFile != "" {
		var err error
		if d, err = history.Load(p.cfg.DurationsFile); err != nil {
			return nil, &config.Error{Input: "durations file", Value: p.cfg.DurationsFile, Fix: err.Error()}
		}
	}
	return storeDurations(p.cfg, d)
}

// saveDurations adds this run's test durations to the history.
func (p *pipeline) saveDurations(past map[string]time.Duration, results []report.CaseResult) error {
	if p.cfg.DurationsFile == "" {
		return nil
	}
	if err := history.Save(p.cfg.DurationsFile, past, report.Durations(results)); err != nil {
		return fmt.Errorf("%w (--durations-file)", err)
	}
	return nil
}
