// Package config turns command-line flags (and, in action mode, action
// inputs) into one validated Config. Every error names the input it is about
// and what a valid value looks like.
package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/k8s-testrun/k8s-testrun/internal/defaults"
	"github.com/k8s-testrun/k8s-testrun/internal/faketime"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
	"github.com/k8s-testrun/k8s-testrun/internal/rerun"
)

// Defaults a user sees in --help and in action.yml; those the operator and
// the CRD share are declared in package defaults.
const (
	DefaultBaseImage      = "python:3.12-slim"
	DefaultParallelism    = defaults.Parallelism
	DefaultTimeout        = defaults.Timeout
	DefaultPendingTimeout = defaults.PendingTimeout
	DefaultJUnitPath      = "k8s-testrun-junit.xml"
	DefaultArtifactsDir   = "k8s-testrun-artifacts"
	DefaultPlatform       = "linux/amd64"
	DefaultResultLimit    = defaults.ResultLimit
	DefaultInfraRetries   = defaults.InfraRetries
	DefaultFlakyRetries   = defaults.FlakyRetries
)

// Modes: who drives the test pods.
const (
	// ModeDirect: this process creates, watches and collects the pods.
	ModeDirect = "direct"
	// ModeOperator: this process creates a TestRun and follows it; the
	// operator in the cluster runs it (k8s-testrun install).
	ModeOperator = "operator"
)

// Sidecar modes.
const (
	SidecarAuto      = defaults.Sidecar
	SidecarNative    = "native"
	SidecarContainer = "container"
)

// Config is everything a run needs, validated.
type Config struct {
	ProjectDir   string
	Requirements string
	// BaseImages are the base images with Python 3, at least one. Each
	// gets its own test image, and every test runs on every base: a
	// runtime matrix, reported as one testsuite per base.
	BaseImages []string
	// Repository is where the image is pushed; empty means in the local
	// registry the cluster advertises (kube-public/local-registry-hosting).
	Repository string
	// PullRegistry is the registry host[:port] pods pull the image from,
	// when the nodes reach the registry under another name than this
	// process (kind's localhost:5001 for kind-registry:5000); empty means
	// the repository's own.
	PullRegistry string
	Platform     string

	Kubeconfig     string
	KubeconfigData []byte
	Context        string
	Namespace      string
	// KubeAPIQPS and KubeAPIBurst are the client's rate limits; zero
	// means DefaultKubeAPIQPS and DefaultKubeAPIBurst.
	KubeAPIQPS   float32
	KubeAPIBurst int
	// NodeLostAfter is how long a node stays not ready before its pods end
	// as NodeLost and their tests run again; zero means
	// DefaultNodeLostAfter.
	NodeLostAfter time.Duration

	Parallelism    int
	Timeout        time.Duration
	PendingTimeout time.Duration
	Retries        int
	// InfraRetries are extra attempts for a test whose pod the
	// infrastructure took away (evicted, preempted, deleted, node lost);
	// they never count as the test's failures nor use up Retries.
	InfraRetries int
	// Selection is passed to pytest's collection: paths, -k, -m.
	Selection []string

	JUnitPath       string
	ArtifactsDir    string
	PodTemplatePath string
	PodTemplate     []byte
	Sidecar         string
	ResultLimit     int
	// Binary is the linux pod binary (k8s-testrun-pod) to put in the image.
	Binary  string
	Verbose bool
	// Mode is ModeDirect or ModeOperator; empty means direct.
	Mode string
	// Output is the progress format, OutputText or OutputJSON; empty
	// means text.
	Output string

	// PodPer is what one pod runs: PodPerTest (default), PodPerClass or
	// PodPerFile. Shards, when above 0, overrides it: the cases are split
	// into that many pods, balanced by the timing history.
	PodPer string
	Shards int
	// DurationsFile holds per-test durations from earlier runs (read when
	// present) and receives this run's (written at the end).
	DurationsFile string
	// Quarantine is the quarantine file given (--quarantine); empty means
	// quarantine.DefaultPath in the project, when present.
	Quarantine string
	// QuarantineList is the quarantine file read by Validate; nil when
	// there is none.
	QuarantineList *quarantine.List
	// Faketime, when set, is the FAKETIME every test runs under, with
	// libfaketime preloaded into its container; a test's
	// @pytest.mark.faketime overrides it.
	Faketime string

	// RerunFailed is the JUnit XML report of an earlier run: only its
	// failed and errored tests run. Validate reads it into Rerun.
	RerunFailed string
	Rerun       *rerun.Report
	// MaxFailures stops the run after this many failed or errored tests;
	// 0 means no limit.
	MaxFailures int
	// APICoverage is where the API server's audit events are read to
	// measure which API endpoints each test hit: a file of JSON-lines
	// audit events, "local" or "kind:CLUSTER"; empty for none.
	APICoverage string
	// Coverage runs every test under coverage.py and combines the pods'
	// data into coverage.xml beside the JUnit report.
	Coverage bool

	// Lanes are the --lane mappings as given, POLICY=MARKER[,MARKER...];
	// Validate reads them into LaneMarkers.
	Lanes []string
	// LaneMarkers maps each lane policy (serial, slow, flaky, disruptive)
	// to the pytest markers that put a test in it; a policy not mapped
	// keeps the marker of its own name.
	LaneMarkers map[string][]string
	// SlowTimeout is the per-test timeout of the slow lane; zero means 3×
	// Timeout.
	SlowTimeout time.Duration
	// FlakyRetries are the extra attempts of a test in the flaky lane,
	// even when Retries is 0.
	FlakyRetries int

	// History is the history store's directory (--history); empty for
	// none. HistoryCommit and HistoryBranch name the commit a run is
	// recorded as (the action's GITHUB_SHA); empty means the project's
	// checked-out commit, read with git.
	History, HistoryCommit, HistoryBranch string
	// CompareTo is the base a run is compared with: a recorded commit or
	// branch; empty means the first of CompareDefaults recorded (the
	// action's pull request base commit and branch), else the newest
	// earlier record of the commit's branch.
	CompareTo       string
	CompareDefaults []string
	// FailOn is FailOnFailures (default) or FailOnNewFailures.
	FailOn string
	// AffectedSince, a commit or branch recorded in History, runs only
	// the tests a change since then can affect.
	AffectedSince string
}

// Values of FailOn.
const (
	FailOnFailures    = "failures"
	FailOnNewFailures = "new-failures"
)

// EffectiveSlowTimeout is the slow lane's per-test timeout.
func (c Config) EffectiveSlowTimeout() time.Duration {
	if c.SlowTimeout > 0 {
		return c.SlowTimeout
	}
	return 3 * c.Timeout
}

// What one pod runs.
const (
	PodPerTest  = "test"
	PodPerClass = "class"
	PodPerFile  = "file"
	// PodPerAuto chooses from the timing history: see plan.PerAuto.
	PodPerAuto = "auto"
)

// Error is an input that cannot be used.
type Error struct {
	Input string
	Value string
	Fix   string
}

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Input, e.Fix)
	}
	return fmt.Sprintf("%s %q: %s", e.Input, e.Value, e.Fix)
}

// ErrHelp is returned when the user asked for help; usage was printed.
var ErrHelp = pflag.ErrHelp

// Flag groups of the run command, in the order its help shows them.
const (
	GroupImage   = "Image"
	GroupCluster = "Cluster"
	GroupRun     = "Running"
	GroupOutput  = "Output"
)

// FlagGroups lists the groups in help order.
var FlagGroups = []string{GroupImage, GroupCluster, GroupRun, GroupOutput}

// groupAnnotation is the pflag annotation that holds a flag's group.
const groupAnnotation = "k8s-testrun.io/group"

// FlagGroup is the help group of a run flag, or "" for one outside them
// (such as --help).
func FlagGroup(f *pflag.Flag) string {
	if g := f.Annotations[groupAnnotation]; len(g) > 0 {
		return g[0]
	}
	return ""
}

// Output formats of the run's progress.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// BindRunFlags defines the flags of the run subcommand on fs, each bound to
// a field of c and set to its default.
func BindRunFlags(fs *pflag.FlagSet, c *Config) {
	bindImageFlags(fs, c)
	bindClusterFlags(fs, c)
	bindRunGroupFlags(fs, c)
	bindOutputFlags(fs, c)
}

// groupIn returns a function that puts a flag of fs in the help group.
func groupIn(fs *pflag.FlagSet, group string) func(name string) {
	return func(name string) {
		_ = fs.SetAnnotation(name, groupAnnotation, []string{group})
	}
}

// bindImageFlags defines the flags of the test image.
func bindImageFlags(fs *pflag.FlagSet, c *Config) {
	in := groupIn(fs, GroupImage)
	fs.StringVar(&c.Repository, "repository", "", "image repository to push the test image to, e.g. localhost:5001/myproject (default $K8S_TESTRUN_REGISTRY/k8s-testrun/<project>, else the cluster's advertised local registry)")
	in("repository")
	fs.StringVar(&c.PullRegistry, "pull-registry", "", "registry host[:port] the nodes pull the image from, when it differs from the repository's, e.g. localhost:5001")
	in("pull-registry")
	fs.StringArrayVar(&c.BaseImages, "base-image", []string{DefaultBaseImage}, "base image with python3 (and pytest, or pip wheels for it); repeat it to run every test on each base (a runtime matrix)")
	in("base-image")
	fs.StringVar(&c.Requirements, "requirements", "", "requirements file, relative to the project (default requirements.txt when present)")
	in("requirements")
	fs.StringVar(&c.Platform, "platform", DefaultPlatform, "platform of the cluster's nodes, os/arch")
	in("platform")
	fs.StringVar(&c.Binary, "binary", "", "linux k8s-testrun-pod binary to put in the image (default: $K8S_TESTRUN_POD_BINARY, else k8s-testrun-pod beside this executable)")
	in("binary")
}

// bindClusterFlags defines the flags of the cluster and how to reach it.
func bindClusterFlags(fs *pflag.FlagSet, c *Config) {
	in := groupIn(fs, GroupCluster)
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	in("kubeconfig")
	fs.StringVar(&c.Context, "context", "", "kubeconfig context (default: the current context)")
	in("context")
	fs.StringVarP(&c.Namespace, "namespace", "n", "", "namespace to run the pods in (default: the context's, else default)")
	in("namespace")
	fs.StringVar(&c.PodTemplatePath, "pod-template", "", "YAML file with a pod template (PodTemplateSpec or PodSpec) merged into every test pod")
	in("pod-template")
	fs.StringVar(&c.Sidecar, "sidecar", SidecarAuto, "collector mode: auto, native (init container with restartPolicy Always) or container")
	in("sidecar")
	fs.StringVar(&c.Mode, "mode", ModeDirect, "direct (this process runs the pods) or operator (a TestRun, run by the operator in the cluster)")
	in("mode")
	fs.Float32Var(&c.KubeAPIQPS, "kube-api-qps", DefaultKubeAPIQPS, "queries per second this process sends the API server at most (client-side rate limit)")
	in("kube-api-qps")
	fs.IntVar(&c.KubeAPIBurst, "kube-api-burst", DefaultKubeAPIBurst, "queries this process may send the API server at once, above --kube-api-qps")
	in("kube-api-burst")
}

// bindRunGroupFlags defines the flags of how the tests run.
func bindRunGroupFlags(fs *pflag.FlagSet, c *Config) {
	in := groupIn(fs, GroupRun)
	fs.IntVarP(&c.Parallelism, "parallelism", "p", DefaultParallelism, "pods running at once")
	in("parallelism")
	fs.DurationVar(&c.Timeout, "timeout", DefaultTimeout, "per-test timeout, e.g. 90s or 10m; 0 for none")
	in("timeout")
	fs.DurationVar(&c.PendingTimeout, "pending-timeout", DefaultPendingTimeout, "how long a pod may stay unschedulable or unable to pull its image")
	in("pending-timeout")
	fs.IntVar(&c.Retries, "retries", 0, "extra attempts for a failed test; a test that passes on retry is reported flaky")
	in("retries")
	fs.IntVar(&c.InfraRetries, "infra-retries", DefaultInfraRetries, "extra attempts for a test whose pod was evicted, preempted, deleted or lost with its node; separate from --retries")
	in("infra-retries")
	fs.DurationVar(&c.NodeLostAfter, "node-lost-after", DefaultNodeLostAfter, "how long a node may stay not ready before its pods end as NodeLost and their tests run again elsewhere")
	in("node-lost-after")
	fs.StringVar(&c.PodPer, "pod-per", PodPerTest, "what one pod runs: test (full isolation), class, file, or auto (chosen from the timing history: slow tests alone, the rest packed by file); results stay per test")
	in("pod-per")
	fs.IntVar(&c.Shards, "shards", 0, "split the tests into N pods balanced by the timing history (overrides --pod-per)")
	in("shards")
	fs.StringVar(&c.DurationsFile, "durations-file", "", "JSON file of per-test durations: read to order and balance the run, then updated with this run's")
	in("durations-file")
	fs.StringVar(&c.History, "history", "", "directory of the history store: each commit's verdicts, durations and footprints, read to compare with a base and to order the run")
	in("history")
	fs.StringVar(&c.CompareTo, "compare-to", "", "commit or branch recorded in --history to compare this run with (default: the newest earlier run of this branch)")
	in("compare-to")
	fs.StringVar(&c.AffectedSince, "affected-since", "", "commit or branch recorded in --history: run only the tests whose footprint holds a file changed since (see docs/isolation-and-speed.md)")
	in("affected-since")
	fs.StringVar(&c.FailOn, "fail-on", FailOnFailures, "which failures fail the run: failures, or new-failures (only tests that passed on the --compare-to base, and failing new tests)")
	in("fail-on")
	fs.StringVar(&c.Quarantine, "quarantine", "", "YAML file of quarantined tests (test id or pattern, until, reason): their failures are reported apart and do not fail the run until the date (default "+quarantine.DefaultPath+" in the project when present)")
	in("quarantine")
	fs.StringVar(&c.RerunFailed, "rerun-failed", "", "JUnit XML report of an earlier run (k8s-testrun's or pytest's): run only its failed and errored tests")
	in("rerun-failed")
	fs.IntVar(&c.MaxFailures, "max-failures", 0, "stop after N failed or errored tests: no more pods, the running ones deleted, the rest reported not run; 0 for no limit")
	in("max-failures")
	fs.StringArrayVar(&c.Lanes, "lane", nil, "map a lane to pytest markers, POLICY=MARKER[,MARKER...] (policies: serial, slow, flaky, disruptive; repeatable), e.g. serial=serial,db_migration")
	in("lane")
	fs.DurationVar(&c.SlowTimeout, "slow-timeout", 0, "per-test timeout of tests in the slow lane (default 3× --timeout)")
	in("slow-timeout")
	fs.IntVar(&c.FlakyRetries, "flaky-retries", DefaultFlakyRetries, "extra attempts for a test in the flaky lane, even when --retries is 0")
	in("flaky-retries")
	fs.IntVar(&c.ResultLimit, "result-limit", DefaultResultLimit, "largest results block a pod ships, in bytes")
	in("result-limit")
	fs.StringVar(&c.Faketime, "faketime", "", `run every test under libfaketime with this FAKETIME, e.g. "2031-06-01 12:00:00", "@2031-06-01 12:00:00" or +3d (the base image needs Debian's libfaketime)`)
	in("faketime")
	fs.BoolVar(&c.Coverage, "coverage", false, "run every test under coverage.py (the test image needs it) and combine the pods' data, in one more pod, into coverage.xml beside the JUnit report")
	in("coverage")
	fs.StringVar(&c.APICoverage, "api-coverage", "", "measure which Kubernetes API endpoints each test hit, from the API server's audit log: a file of JSON-lines audit events, local (the local cluster's), or kind:CLUSTER; the pod template must name a ServiceAccount")
	in("api-coverage")
}

// bindOutputFlags defines the flags of the run's reports and output.
func bindOutputFlags(fs *pflag.FlagSet, c *Config) {
	in := groupIn(fs, GroupOutput)
	fs.StringVar(&c.JUnitPath, "junit", DefaultJUnitPath, "where to write the merged JUnit XML report")
	in("junit")
	fs.StringVar(&c.ArtifactsDir, "artifacts", DefaultArtifactsDir, "directory for the files tests write to $K8S_TESTRUN_ARTIFACTS, one subdirectory per test")
	in("artifacts")
	fs.StringVarP(&c.Output, "output", "o", OutputText, "progress format: text (a live line on a terminal, a line per test elsewhere) or json (one event per line on stdout)")
	in("output")
	fs.BoolVarP(&c.Verbose, "verbose", "v", false, "log every step (key=value lines on stderr)")
	in("verbose")
}

// SplitAtDash splits a command's arguments where "--" stood (at, or -1
// when there was none): the project directory before, pytest's selection
// after.
func SplitAtDash(args []string, at int) (positional, selection []string) {
	if at < 0 {
		return args, nil
	}
	return args[:at], args[at:]
}

// Complete fills in what the flags leave to the positional arguments and
// the environment, then validates the whole. positional holds the
// arguments before "--" (the project directory), selection those after it.
func (c *Config) Complete(positional, selection []string, getenv func(string) string) error {
	c.Selection = selection
	switch len(positional) {
	case 0:
		c.ProjectDir = "."
	case 1:
		c.ProjectDir = positional[0]
	default:
		return &Error{Input: "arguments", Value: strings.Join(positional, " "), Fix: "give one project directory; pytest selection goes after --"}
	}
	if c.Kubeconfig == "" {
		c.Kubeconfig = getenv("KUBECONFIG")
	}
	if c.Repository == "" {
		if reg := getenv("K8S_TESTRUN_REGISTRY"); reg != "" {
			c.Repository = DefaultRepository(reg, c.ProjectDir)
		}
	}
	return c.LoadAndValidate()
}

// Validate checks every input and reports all problems at once. It is a
// pure check of the Config as it stands: it opens no file and changes
// nothing. What the Config names on disk (the project, its requirements,
// the pod template, the rerun report, the quarantine file) is read by Load,
// called before it; LoadAndValidate does both.
func (c *Config) Validate() error {
	var errs []error
	bad := func(input, value, fix string) { errs = append(errs, &Error{Input: input, Value: value, Fix: fix}) }
	c.checkSources(bad)
	c.checkLimits(bad)
	c.checkMode(bad)
	c.checkCluster(bad)
	c.checkShape(bad)
	if _, err := ParseLanes(c.Lanes); err != nil {
		errs = append(errs, err)
	}
	if c.MaxFailures < 0 {
		bad("max failures", fmt.Sprint(c.MaxFailures), "must be 0 (no limit) or more")
	}
	c.checkRerun(bad)
	c.checkHistory(bad)
	if c.JUnitPath == "" {
		bad("junit path", "", "is required, e.g. "+DefaultJUnitPath)
	}
	c.checkAPICoverage(bad)
	return errors.Join(errs...)
}

// checkSources checks where the project, its images and their registries
// are, and the platform to build for.
func (c *Config) checkSources(bad func(input, value, fix string)) {
	// An empty repository is checked once the cluster is reached: it may
	// advertise a local registry.
	if c.Repository != "" {
		if _, err := name.NewRepository(c.Repository); err != nil {
			bad("repository", c.Repository, "give a repository without tag or digest, e.g. localhost:5001/myproject")
		}
	}
	if c.PullRegistry != "" {
		if _, err := name.NewRegistry(c.PullRegistry, name.StrictValidation); err != nil {
			bad("pull registry", c.PullRegistry, "give a registry host[:port] without scheme or path, e.g. localhost:5001")
		}
	}
	c.checkBaseImages(bad)
	if os, arch, ok := strings.Cut(c.Platform, "/"); !ok || os == "" || arch == "" {
		bad("platform", c.Platform, "give os/arch, e.g. linux/amd64")
	}
}

// checkLimits checks the run's parallelism, timeouts, retries, sidecar and
// result limit.
func (c *Config) checkLimits(bad func(input, value, fix string)) {
	if c.Parallelism < 1 {
		bad("parallelism", fmt.Sprint(c.Parallelism), "must be 1 or more")
	}
	if c.Timeout < 0 {
		bad("timeout", c.Timeout.String(), "must be zero (no timeout) or positive, e.g. 10m")
	}
	if c.PendingTimeout <= 0 {
		bad("pending timeout", c.PendingTimeout.String(), "must be positive, e.g. 2m")
	}
	if c.Retries < 0 {
		bad("retries", fmt.Sprint(c.Retries), "must be 0 or more")
	}
	if c.InfraRetries < 0 {
		bad("infra retries", fmt.Sprint(c.InfraRetries), "must be 0 or more")
	}
	switch c.Sidecar {
	case SidecarAuto, SidecarNative, SidecarContainer:
	default:
		bad("sidecar", c.Sidecar, "must be auto, native or container")
	}
	if c.ResultLimit < 4096 {
		bad("result limit", fmt.Sprint(c.ResultLimit), "must be at least 4096 bytes")
	}
}

// checkShape checks how tests are grouped into pods, the output format,
// shards, faketime, the slow timeout and flaky retries.
func (c *Config) checkShape(bad func(input, value, fix string)) {
	switch c.PodPer {
	case "", PodPerTest, PodPerClass, PodPerFile, PodPerAuto:
	default:
		bad("pod per", c.PodPer, "must be test, class, file or auto")
	}
	switch c.Output {
	case "", OutputText, OutputJSON:
	default:
		bad("output", c.Output, "must be text or json")
	}
	if c.Shards < 0 {
		bad("shards", fmt.Sprint(c.Shards), "must be 0 (off) or more")
	}
	if c.Faketime != "" {
		if err := faketime.Validate(c.Faketime); err != nil {
			bad("faketime", c.Faketime, err.Error())
		}
	}
	if c.SlowTimeout < 0 {
		bad("slow timeout", c.SlowTimeout.String(), "must be positive, e.g. 30m, or 0 for 3× --timeout")
	}
	if c.FlakyRetries < 0 {
		bad("flaky retries", fmt.Sprint(c.FlakyRetries), "must be 0 or more")
	}
}

// checkRerun checks that the mode can rerun the failed tests of the
// report Load read.
func (c *Config) checkRerun(bad func(input, value, fix string)) {
	if c.Mode == ModeOperator && c.Rerun != nil {
		for _, t := range c.Rerun.Failed {
			if t.TestID == "" {
				bad("rerun failed", c.RerunFailed, "names its failed tests by classname and name only (plain pytest's --junitxml), and the operator takes node ids; give a k8s-testrun report (testcases with the property "+junit.PropertyTestID+"), or use --mode direct")
				break
			}
		}
	}
}

// checkMode checks the mode and what it does not take.
func (c *Config) checkMode(bad func(input, value, fix string)) {
	switch c.Mode {
	case "", ModeDirect:
	case ModeOperator:
		if c.ResultLimit > 1<<20 {
			bad("result limit", fmt.Sprint(c.ResultLimit), "must be at most 1048576 bytes in operator mode, where results are kept in ConfigMaps")
		}
		if c.DurationsFile != "" {
			bad("mode", c.Mode, "does not take --durations-file: the operator keeps the durations in the ConfigMap k8s-testrun-durations-<project> of the namespace; drop it")
		}
		if c.Coverage {
			bad("mode", c.Mode, "does not take --coverage: the operator's pods ship results to the cluster, not to this machine, which combines the coverage data; use --mode direct")
		}
		if c.FlakyRetries > 10 {
			bad("flaky retries", fmt.Sprint(c.FlakyRetries), "must be at most 10 in operator mode (the TestRun's flakyRetries)")
		}
	default:
		bad("mode", c.Mode, "must be direct or operator")
	}
}

// checkHistory checks what needs the history store.
func (c *Config) checkHistory(bad func(input, value, fix string)) {
	switch c.FailOn {
	case "", FailOnFailures:
	case FailOnNewFailures:
		if c.History == "" {
			bad("fail on", c.FailOn, "needs a history store, where the base's results are (--history, the action's history_path)")
		}
	default:
		bad("fail on", c.FailOn, "must be failures or new-failures")
	}
	if c.AffectedSince != "" && c.History == "" {
		bad("affected since", c.AffectedSince, "needs --history, where the footprints are; give --history DIR")
	}
	if c.AffectedSince != "" && c.Mode == ModeOperator {
		bad("affected since", c.AffectedSince, "is direct mode only; use --mode direct")
	}
	if c.CompareTo != "" && c.History == "" {
		bad("compare to", c.CompareTo, "needs a history store, where the base's results are (--history, the action's history_path)")
	}
}

// MissingRepository is the error of a run with no repository, once the
// cluster turned out to advertise no local registry either; why says what
// the cluster answered.
func MissingRepository(why string) *Error {
	return &Error{Input: "repository", Fix: "is required: name a registry repository to push the test image to, " +
		"e.g. --repository localhost:5001/myproject (the action's repository input), or advertise the cluster's local registry in " +
		"ConfigMap kube-public/local-registry-hosting (" + why + ")"}
}

// DefaultRepository is the repository of a project's images in registry.
func DefaultRepository(registry, projectDir string) string {
	return registry + "/k8s-testrun/" + repoName(projectDir)
}

func repoName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	name := strings.ToLower(filepath.Base(abs))
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	if b.Len() == 0 {
		return "project"
	}
	return b.String()
}

// MaxBaseImages bounds a runtime matrix: each base is a build, a
// discovery and a full run of the suite.
const MaxBaseImages = 8

// checkBaseImages refuses an empty, repeated or unparsable base image, and
// a matrix too wide.
func (c *Config) checkBaseImages(bad func(input, value, fix string)) {
	if len(c.BaseImages) == 0 {
		bad("base image", "", "is required, e.g. "+DefaultBaseImage)
		return
	}
	if len(c.BaseImages) > MaxBaseImages {
		bad("base image", strings.Join(c.BaseImages, ","), fmt.Sprintf("give at most %d base images", MaxBaseImages))
	}
	seen := map[string]bool{}
	for _, b := range c.BaseImages {
		switch {
		case strings.TrimSpace(b) == "":
			bad("base image", b, "is required, e.g. "+DefaultBaseImage)
		case seen[b]:
			bad("base image", b, "is given twice; give each base image once")
		default:
			if _, err := name.ParseReference(b); err != nil {
				bad("base image", b, "give an image reference, e.g. "+DefaultBaseImage)
			}
		}
		seen[b] = true
	}
}
