// Package ghaction is k8s-testrun's side of the GitHub Actions runner: the
// action's inputs read into a config.Config, the step's outputs, the job
// summary, log groups, masks, and annotations as workflow commands.
//
// Everything goes through sethvargo/go-githubactions with the environment
// and the output stream injected, so tests never touch the real ones. Test
// output is only ever printed inside a stop-commands fence with a random
// token, so nothing a test prints is taken by the runner as a command.
package ghaction

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"
	"github.com/spf13/pflag"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

// Input is one input of action.yml.
type Input struct {
	Name    string
	Default string
	// Description is what action.yml (and so docs/action.md) says.
	Description string
}

// Inputs is every input the action reads, in action.yml's order. action.yml
// must declare exactly these, with these defaults; a test checks it.
var Inputs = []Input{
	{InputProjectPath, ".", "Path of the Python project to test, relative to the workspace."},
	{InputRequirements, "", "pip requirements file, relative to project_path. Empty means requirements.txt when present, else only pytest."},
	{InputBaseImage, config.DefaultBaseImage, "Base image with Python 3. The test image is this plus the dependencies, the tests and k8s-testrun. One image per line runs every test on each (a runtime matrix, one testsuite per base)."},
	{InputRepository, "", "Registry repository the test image is pushed to, e.g. localhost:5001/myproject; the cluster must be able to pull from it. Empty means $K8S_TESTRUN_REGISTRY/k8s-testrun/<project>, else the local registry the cluster advertises in kube-public/local-registry-hosting."},
	{InputPullRegistry, "", "Registry host[:port] the nodes pull the test image from, when they reach the registry under another name than the action does, e.g. localhost:5001. Empty means the repository's own, or what the cluster's local-registry-hosting ConfigMap says."},
	{InputKubeconfig, "", "Kubeconfig contents, e.g. from a secret. Empty means the file KUBECONFIG names, relative to the workspace."},
	{InputNamespace, "", "Namespace to run the test pods in. Empty means the kubeconfig context's, else default."},
	{InputParallelism, strconv.Itoa(config.DefaultParallelism), "How many test pods run at once."},
	{InputTimeout, "10m", "Per-test timeout, e.g. 90s or 10m (a bare number is seconds); 0 means none."},
	{InputRetries, "0", "Extra attempts for a failed test; a test that passes on a retry is reported flaky."},
	{InputPytestArgs, "", "pytest selection: paths, -k and -m expressions, shell-quoted, e.g. tests/unit -m 'not slow'."},
	{InputToken, "${{ github.token }}", "Token for the Checks API; needs checks: write. Without it, results still reach the job summary and annotations."},
	{InputCheckName, "k8s-testrun", "Name of the check run."},
	{InputFailOn, FailOnFailures, "When the step fails: failures (a test failed or errored), errors (only infrastructure errors: timeouts, OOM, unschedulable pods, image pulls), new-failures (only tests that passed on the compared base, and failing new tests; needs history_path), never."},
	{InputJUnitPath, config.DefaultJUnitPath, "Where the merged JUnit XML report is written, relative to the workspace."},
	{InputPodTemplate, "", "YAML of a pod template (PodTemplateSpec or PodSpec) merged into every test pod: node selector, tolerations, resources, env, secrets."},
	{InputMode, config.ModeDirect, "Who runs the test pods: direct (the action creates, watches and collects them) or operator (the action creates a TestRun for the k8s-testrun operator installed in the cluster and follows it)."},
	{InputPodPer, config.PodPerTest, "What one pod runs: test (each test isolated in its own pod), class, file, or auto (from the timing history: slow tests alone, the rest packed by file; by file with no history). Results stay per test either way."},
	{InputShards, "0", "Split the tests into this many pods, balanced by the durations file; overrides pod_per. 0 means off."},
	{InputDurationsFile, "", "JSON file of per-test durations, relative to the workspace: read to start the slowest tests first and balance shards, then updated with this run's. Keep it between runs with actions/cache."},
	{InputFaketime, "", "FAKETIME every test runs under, with libfaketime preloaded in its container: \"2031-06-01 12:00:00\" (a stopped clock), \"@2031-06-01 12:00:00\" (a clock running from then) or an offset such as +3d. The base image needs Debian's libfaketime. Empty means the real time; @pytest.mark.faketime(...) sets one test's."},
	{InputRerunFailed, "", "JUnit XML report of an earlier run (this action's junit_path or pytest's --junitxml), relative to the workspace: run only its failed and errored tests. A report without failures runs nothing."},
	{InputMaxFailures, "0", "Stop after this many failed or errored tests: no more pods start, the running ones are deleted, the rest are reported as not run. 0 means no limit."},
	{InputInfraRetries, strconv.Itoa(config.DefaultInfraRetries), "Extra attempts for a test whose pod was evicted, preempted, deleted by someone else or lost with its node; separate from retries, and never reported as the test's failure."},
	{InputNodeLostAfter, config.DefaultNodeLostAfter.String(), "How long a node's Ready condition may stay Unknown or False before its test pods end as NodeLost and their tests run again elsewhere, as infrastructure retries (needs list and watch on nodes)."},
	{InputKubeAPIQPS, strconv.Itoa(config.DefaultKubeAPIQPS), "Queries per second the action sends the Kubernetes API server at most (the client's rate limit)."},
	{InputKubeAPIBurst, strconv.Itoa(config.DefaultKubeAPIBurst), "Queries the action may send the API server at once, above kube_api_qps."},
	{InputCoverage, "false", "true to run every test under coverage.py and combine the pods' data, in one more pod of the test image, into a Cobertura coverage.xml beside the JUnit report; the total goes to the coverage output and the job summary. The test image needs coverage.py (from the requirements or the base image); the action needs none. Direct mode only."},
	{InputAPICoverage, "", "Measure which Kubernetes API endpoints each test hit, from the API server's audit log (Metadata level is enough): a file of JSON-lines audit events relative to the workspace, kind:CLUSTER (the log at /var/log/kubernetes/kube-apiserver-audit.log in kind's control-plane container, read through the Docker socket), or local (the k8s-testrun local cluster's). Each test's endpoint count becomes a JUnit property, api-coverage.json beside the JUnit report has the full map, and the job summary a section. The pod_template must name a serviceAccountName. Empty means off. In operator mode the action reads the log once the TestRun ends."},
	{InputQuarantine, "", "YAML file of quarantined tests, relative to the workspace: entries of test (a test id or a path.Match pattern), until (YYYY-MM-DD, protects through that day, UTC), reason, and optional owner and link. A quarantined test still runs; its failure is reported as quarantined and does not fail the step. An entry past until no longer protects and gets a warning. Empty means .k8s-testrun/quarantine.yaml in the project when present."},
	{InputLanes, "", "Marker lanes: POLICY=MARKER[,MARKER...], one mapping per line or separated by semicolons, e.g. serial=serial,db_migration. Policies: serial (alone, after the parallel tests), slow (slow_timeout, started first), flaky (flaky_retries), disruptive (alone, last). A policy not mapped takes the marker of its own name."},
	{InputSlowTimeout, "0", "Per-test timeout of tests in the slow lane, e.g. 30m (a bare number is seconds); 0 means 3× timeout."},
	{InputFlakyRetries, strconv.Itoa(config.DefaultFlakyRetries), "Extra attempts for a test in the flaky lane, even when retries is 0; a pass on a retry is reported flaky."},
	{InputHistoryPath, "", "Directory of the history store, relative to the workspace: each commit's verdicts, durations and footprints, kept between runs with actions/cache. With it the run is compared with a base (new failures, fixed, new flaky, slower...), and the durations come from it too. Empty means none."},
	{InputCompareTo, "", "Commit or branch recorded in history_path to compare with. Empty means the pull request's base commit (else the newest run of its base branch), or on a push the newest earlier run of the branch."},
}

// Names of the inputs.
const (
	InputProjectPath   = "project_path"
	InputRequirements  = "requirements"
	InputBaseImage     = "base_image"
	InputRepository    = "repository"
	InputPullRegistry  = "pull_registry"
	InputKubeconfig    = "kubeconfig"
	InputNamespace     = "namespace"
	InputParallelism   = "parallelism"
	InputTimeout       = "timeout"
	InputRetries       = "retries"
	InputPytestArgs    = "pytest_args"
	InputToken         = "token"
	InputCheckName     = "check_name"
	InputFailOn        = "fail_on"
	InputJUnitPath     = "junit_path"
	InputPodTemplate   = "pod_template"
	InputMode          = "mode"
	InputPodPer        = "pod_per"
	InputShards        = "shards"
	InputDurationsFile = "durations_file"
	InputFaketime      = "faketime"
	InputRerunFailed   = "rerun_failed"
	InputMaxFailures   = "max_failures"
	InputInfraRetries  = "infra_retries"
	InputNodeLostAfter = "node_lost_after"
	InputKubeAPIQPS    = "kube_api_qps"
	InputKubeAPIBurst  = "kube_api_burst"
	InputCoverage      = "coverage"
	InputAPICoverage   = "api_coverage"
	InputQuarantine    = "quarantine"
	InputLanes         = "lanes"
	InputSlowTimeout   = "slow_timeout"
	InputFlakyRetries  = "flaky_retries"
	InputHistoryPath   = "history_path"
	InputCompareTo     = "compare_to"
)

// Values of fail_on.
const (
	FailOnFailures = "failures"
	FailOnErrors   = "errors"
	FailOnNever    = "never"
	// FailOnNewFailures fails the step only on new failures (see
	// config.FailOnNewFailures).
	FailOnNewFailures = config.FailOnNewFailures
)

// Settings are the inputs that are the action's own rather than the run's.
type Settings struct {
	Token     string
	CheckName string
	FailOn    string
	// Workspace is the checkout (GITHUB_WORKSPACE).
	Workspace string
	// ProjectPrefix is the project directory relative to the repository
	// root, in slash form, prefixed to the file names pytest reports
	// (relative to the project) to place annotations; "" for the root or a
	// project outside the workspace.
	ProjectPrefix string
	// JUnitPath is the report's path as the junit_path input gave it.
	JUnitPath string
}

// Read reads the inputs (INPUT_* through getenv, as the runner sets them)
// into a loaded and validated Config and the action's Settings. Each input
// of the run sets its flag of the run command (inputFlags), so it parses
// and fails as the flag does; the rest are the action's own (actionOnly).
// It reports every bad input at once, each a *config.Error naming the
// input.
func Read(getenv func(string) string) (config.Config, Settings, error) {
	a := githubactions.New(githubactions.WithGetenv(getenv))
	in := func(name string) string {
		if v := a.GetInput(name); v != "" {
			return v
		}
		return defaultOf(name)
	}
	var errs []error
	bad := func(input, value, fix string) {
		errs = append(errs, &config.Error{Input: input, Value: value, Fix: fix})
	}

	s := readSettings(a, getenv, in, bad)
	var c config.Config
	fs := pflag.NewFlagSet("action", pflag.ContinueOnError)
	config.BindRunFlags(fs, &c)
	flagErrs, reported := setFlags(fs, a.GetInput, s.Workspace)
	errs = append(errs, flagErrs...)
	actionOnly(&c, fs, a, getenv, s, bad)
	s.ProjectPrefix = prefix(s.Workspace, c.ProjectDir)
	errs = append(errs, checkInlineFiles(&c)...)

	// An input that did not parse has its error already; Validate would
	// only add a second, confusing one about the value left behind.
	for _, e := range errs {
		reported[e.(*config.Error).Input] = true
	}
	for _, e := range inputErrors(c.LoadAndValidate()) {
		var ce *config.Error
		if errors.As(e, &ce) && reported[ce.Input] {
			continue
		}
		errs = append(errs, e)
	}
	return c, s, errors.Join(errs...)
}

// readSettings reads the action's own inputs (the token through a, never
// with a default); bad hears a fail_on it does not know.
func readSettings(a *githubactions.Action, getenv, in func(string) string, bad func(input, value, fix string)) Settings {
	s := Settings{
		Token:     a.GetInput(InputToken),
		CheckName: in(InputCheckName),
		FailOn:    in(InputFailOn),
		Workspace: getenv("GITHUB_WORKSPACE"),
		JUnitPath: in(InputJUnitPath),
	}
	if s.Workspace == "" {
		s.Workspace = "."
	}
	switch s.FailOn {
	case FailOnFailures, FailOnErrors, FailOnNever, FailOnNewFailures:
	default:
		bad(InputFailOn, s.FailOn, "must be failures, errors, new-failures or never")
	}

	return s
}

// checkInlineFiles checks the kubeconfig and the pod template the inputs
// give, so that malformed contents are input errors.
func checkInlineFiles(c *config.Config) []error {
	var errs []error
	// Malformed contents would only fail later, at connection or pod
	// creation, as an error that fail_on could let pass.
	switch {
	case c.KubeconfigData != nil:
		if err := checkKubeconfig(c.KubeconfigData, ""); err != nil {
			errs = append(errs, err)
		}
	case c.Kubeconfig != "" && !strings.ContainsRune(c.Kubeconfig, filepath.ListSeparator):
		if err := checkKubeconfig(nil, c.Kubeconfig); err != nil {
			errs = append(errs, err)
		}
	}
	if c.PodTemplate != nil {
		if err := checkPodTemplate(c.PodTemplate); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func defaultOf(name string) string {
	for _, in := range Inputs {
		if in.Name == name {
			// A default that is an expression is the runner's to evaluate.
			if strings.HasPrefix(in.Default, "${{") {
				return ""
			}
			return in.Default
		}
	}
	return ""
}

// splitLanes splits the lanes input into --lane mappings: one per line or
// separated by semicolons (commas separate the markers of one mapping).
func splitLanes(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func inputErrors(err error) []error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	names := validateNames()
	for _, e := range list {
		var ce *config.Error
		if errors.As(e, &ce) {
			c := *ce
			if name, ok := names[c.Input]; ok {
				c.Input = name
			}
			c.Fix = strings.ReplaceAll(c.Fix, "--repository ", "repository: ")
			e = &c
		}
		out = append(out, e)
	}
	return out
}

func inWorkspace(workspace, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(workspace, p)
}

func prefix(workspace, dir string) string {
	ws, err1 := filepath.Abs(workspace)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return ""
	}
	rel, err := filepath.Rel(ws, d)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return path.Clean(filepath.ToSlash(rel))
}

func repoName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	var b strings.Builder
	for _, r := range strings.ToLower(filepath.Base(abs)) {
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

// splitArgs splits shell-style words: whitespace separates, single quotes
// keep everything, double quotes keep everything but a backslash escape,
// and a backslash outside quotes escapes the next character. Nothing is
// expanded: there is no shell.
func splitArgs(s string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		inArg bool
		quote rune
		esc   bool
	)
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				esc = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			esc, inArg = true, true
		case r == '\'' || r == '"':
			quote, inArg = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("has an unclosed %c quote", quote)
	}
	if esc {
		return nil, errors.New("ends with a lone backslash")
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

// splitBaseImages splits the base_image input, one image per line, blank
// lines ignored: several images make a runtime matrix. An empty input is
// one empty image, which validation refuses by name.
func splitBaseImages(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}
