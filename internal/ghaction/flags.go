package ghaction

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"
	"github.com/spf13/pflag"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
)

// inputFlag maps one input of action.yml onto the run command's flag
// (config.BindRunFlags): the action sets the flag with the input's value,
// so an input parses, defaults and fails exactly as its flag does. Where
// the action must differ, values says how, here and nowhere else.
type inputFlag struct {
	input string
	// flag is the run flag the input sets; "" for an input the action
	// reads itself (actionOnly).
	flag string
	// values turns the input into the flag's values, one fs.Set each; nil
	// means the input as given.
	values func(workspace, v string) []string
}

// inputFlags lists every input of action.yml, in its order; a test checks
// that none is missing and that each flag exists.
var inputFlags = []inputFlag{
	{InputProjectPath, "", nil}, // the positional PROJECT_DIR: actionOnly
	{InputRequirements, "requirements", nil},
	{InputBaseImage, "base-image", lines},
	{InputRepository, "repository", nil},
	{InputPullRegistry, "pull-registry", nil},
	{InputKubeconfig, "", nil}, // contents, not a path: actionOnly
	{InputNamespace, "namespace", nil},
	{InputParallelism, "parallelism", nil},
	{InputTimeout, "timeout", bareSeconds},
	{InputRetries, "retries", nil},
	{InputPytestArgs, "", nil}, // what follows --: actionOnly
	{InputToken, "", nil},      // Settings
	{InputCheckName, "", nil},  // Settings
	{InputFailOn, "", nil},     // Settings; new-failures also sets --fail-on
	{InputJUnitPath, "junit", inWorkspaceValue},
	{InputPodTemplate, "", nil}, // contents, not a path: actionOnly
	{InputMode, "mode", nil},
	{InputPodPer, "pod-per", nil},
	{InputShards, "shards", nil},
	{InputDurationsFile, "durations-file", inWorkspaceValue},
	{InputFaketime, "faketime", nil},
	{InputRerunFailed, "rerun-failed", inWorkspaceValue},
	{InputMaxFailures, "max-failures", nil},
	{InputInfraRetries, "infra-retries", nil},
	{InputNodeLostAfter, "node-lost-after", bareSeconds},
	{InputKubeAPIQPS, "kube-api-qps", nil},
	{InputKubeAPIBurst, "kube-api-burst", nil},
	{InputCoverage, "coverage", nil},
	{InputAPICoverage, "api-coverage", func(ws, v string) []string { return []string{apiCoverageSource(ws, v)} }},
	{InputQuarantine, "quarantine", inWorkspaceValue},
	{InputLanes, "lane", func(_, v string) []string { return splitLanes(v) }},
	{InputSlowTimeout, "slow-timeout", bareSeconds},
	{InputFlakyRetries, "flaky-retries", nil},
	{InputHistoryPath, "history", inWorkspaceValue},
	{InputCompareTo, "compare-to", nil},
}

// Action-only value rules: paths are relative to the workspace, a
// duration may be a bare number of seconds, and a multi-line input is one
// value a line.

func inWorkspaceValue(ws, v string) []string { return []string{inWorkspace(ws, v)} }

func lines(_, v string) []string { return splitBaseImages(v) }

// bareSeconds reads a bare whole number as seconds, as the action always has;
// anything else is the flag's to parse (a Go duration).
func bareSeconds(_, v string) []string {
	if _, err := strconv.Atoi(v); err == nil {
		return []string{v + "s"}
	}
	return []string{v}
}

// actionOnly sets what the action takes otherwise than the command line:
// the project and the default report path (relative to the workspace),
// pytest's arguments (one shell-quoted input), the kubeconfig and pod
// template as contents, the registry and the commit from the environment,
// fail_on's new-failures, verbosity from RUNNER_DEBUG, and no artifacts
// directory.
func actionOnly(c *config.Config, fs *pflag.FlagSet, a *githubactions.Action, getenv func(string) string, s Settings, bad func(input, value, fix string)) {
	c.ProjectDir = inWorkspace(s.Workspace, cmp.Or(a.GetInput(InputProjectPath), defaultOf(InputProjectPath)))
	if !fs.Changed("junit") {
		// The flag's default path is relative to the workspace too.
		c.JUnitPath = inWorkspace(s.Workspace, c.JUnitPath)
	}
	var err error
	if v := a.GetInput(InputPytestArgs); v != "" {
		if c.Selection, err = splitArgs(v); err != nil {
			bad(InputPytestArgs, v, err.Error())
		}
	}
	if k := a.GetInput(InputKubeconfig); k != "" {
		c.KubeconfigData = []byte(k + "\n")
	} else if k := getenv("KUBECONFIG"); k != "" {
		c.Kubeconfig = inWorkspace(s.Workspace, k)
	}
	if t := a.GetInput(InputPodTemplate); t != "" {
		c.PodTemplate = []byte(t + "\n")
		c.PodTemplatePath = "the pod_template input"
	}
	if c.Repository == "" {
		if reg := getenv("K8S_TESTRUN_REGISTRY"); reg != "" {
			c.Repository = reg + "/k8s-testrun/" + repoName(c.ProjectDir)
		}
	}
	if c.History != "" {
		// The commit under test, as GitHub names it: git is not needed.
		c.HistoryCommit = getenv("GITHUB_SHA")
		c.HistoryBranch = cmp.Or(getenv("GITHUB_HEAD_REF"), getenv("GITHUB_REF_NAME"))
		if b := getenv("GITHUB_BASE_REF"); b != "" {
			c.CompareDefaults = []string{b}
		}
	}
	if s.FailOn == FailOnNewFailures {
		_ = fs.Set("fail-on", FailOnNewFailures)
	}
	if getenv("RUNNER_DEBUG") == "1" {
		_ = fs.Set("verbose", "true")
	}
	// The action keeps what tests write to $K8S_TESTRUN_ARTIFACTS in their
	// results only; it writes no directory of them.
	c.ArtifactsDir = ""
}

// setFlags sets the run flag of every input given (getInput returns ""
// for one not given, which keeps the flag's default). A value the flag
// does not take is a *config.Error naming the input, with the flag's own
// fix.
func setFlags(fs *pflag.FlagSet, getInput func(string) string, workspace string) (errs []error, failed map[string]bool) {
	failed = map[string]bool{}
	for _, m := range inputFlags {
		v := getInput(m.input)
		if m.flag == "" || v == "" {
			continue
		}
		values := []string{v}
		if m.values != nil {
			values = m.values(workspace, v)
		}
		for _, value := range values {
			err := fs.Set(m.flag, value)
			if err == nil {
				continue
			}
			fix, ok := config.ValueFix(err)
			if !ok {
				fix = err.Error()
			}
			errs = append(errs, &config.Error{Input: m.input, Value: v, Fix: fix})
			failed[m.input] = true
			break
		}
	}
	return errs, failed
}

// validateNames maps the names Config.Validate and Load give inputs (the
// flag's name with spaces) onto the action's.
func validateNames() map[string]string {
	names := map[string]string{
		"project directory": InputProjectPath,
		"junit path":        InputJUnitPath,
		"pod template":      InputPodTemplate,
		"fail on":           InputFailOn,
	}
	for _, m := range inputFlags {
		if m.flag != "" {
			names[strings.ReplaceAll(m.flag, "-", " ")] = m.input
		}
	}
	return names
}
