package action

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/k8s-testrun/k8s-testrun/test/support"
)

// The README's kind quick start is what the kind tests run: they read its
// workflow, and every step becomes what the test does in its place. A step,
// key or value the tests cannot do as the workflow says fails the parse,
// so the README cannot drift from what `make e2e-kind` runs.

// quickStartHeading is the README section whose yaml block is the workflow.
const quickStartHeading = "## Quick start: the GitHub Action on kind"

// quickStart is the README's workflow as the kind tests run it.
type quickStart struct {
	// kindName is the cluster name of the kubeconfig step (helm/kind-action
	// names its cluster chart-testing); the tests ask hack/kind's cluster,
	// under its own name, the same way.
	kindName string
	// kubeconfig is the file the kubeconfig step writes, relative to the
	// workspace.
	kubeconfig string
	// env and with are the action step's env: and with:, as written.
	env, with map[string]string
	// projectPath is with's project_path, or its default: where the
	// project is in the workspace.
	projectPath string
	// artifactOutput is the action's output whose file the upload step
	// uploads.
	artifactOutput string
}

// machineInputs are the inputs a kind test may add to the README's: the
// base image, which this machine cannot pull from Docker Hub and takes
// from kind's registry, and what a test sets for its project. The README
// setting one of them is a key the test cannot honour.
var machineInputs = map[string]bool{"base_image": true, "pytest_args": true, "parallelism": true, "timeout": true}

type workflowStep struct {
	Name string            `json:"name"`
	ID   string            `json:"id"`
	If   string            `json:"if"`
	Uses string            `json:"uses"`
	Run  string            `json:"run"`
	With map[string]any    `json:"with"`
	Env  map[string]string `json:"env"`
}

var (
	kubeconfigRun = regexp.MustCompile(`^kind get kubeconfig --name ([a-z0-9-]+) ?> ?([A-Za-z0-9._/-]+)$`)
	outputExpr    = regexp.MustCompile(`^\$\{\{ *steps\.([A-Za-z0-9_-]+)\.outputs\.([a-z_]+) *\}\}$`)
)

// readQuickStart parses the README's kind quick start.
func readQuickStart(t *testing.T) quickStart {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(support.RepoRoot(), "README.md"))
	require.NoError(t, err)
	action, err := os.ReadFile(filepath.Join(support.RepoRoot(), "action.yml"))
	require.NoError(t, err)
	q, err := parseQuickStart(readme, action)
	require.NoError(t, err, "README.md's kind quick start is what make e2e-kind runs")
	return q
}

// parseQuickStart reads the workflow in the yaml block under
// quickStartHeading, checking each step against what the kind tests can
// run in its place and each input against action.yml.
func parseQuickStart(readme, actionYML []byte) (quickStart, error) {
	q := quickStart{}
	fail := func(format string, a ...any) (quickStart, error) {
		return q, fmt.Errorf("README.md, "+quickStartHeading[3:]+": "+format, a...)
	}
	_, section, ok := strings.Cut(string(readme), "\n"+quickStartHeading+"\n")
	if !ok {
		return fail("no such section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		return fail("no yaml block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		return fail("the yaml block does not end")
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []map[string]any `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(block), &wf); err != nil {
		return fail("%v", err)
	}
	if len(wf.Jobs) != 1 {
		return fail("%d jobs; the kind tests run one", len(wf.Jobs))
	}
	var meta struct {
		Inputs map[string]struct {
			Default string `json:"default"`
		} `json:"inputs"`
	}
	if err := yaml.Unmarshal(actionYML, &meta); err != nil || len(meta.Inputs) == 0 {
		return fail("action.yml has no inputs: %v", err)
	}
	actionID := ""
	for _, j := range wf.Jobs {
		for i, raw := range j.Steps {
			for k := range raw {
				switch k {
				case "name", "id", "if", "uses", "run", "with", "env":
				default:
					return fail("step %d: the kind tests cannot honour the key %q", i+1, k)
				}
			}
			b, _ := yaml.Marshal(raw)
			var st workflowStep
			if err := yaml.UnmarshalStrict(b, &st); err != nil {
				return fail("step %d: %v", i+1, err)
			}
			action, _, _ := strings.Cut(st.Uses, "@")
			switch {
			case action == "actions/checkout":
				// The test copies the project into the workspace.
				if len(st.With) > 0 || len(st.Env) > 0 {
					return fail("step %d: actions/checkout with inputs or env the kind tests cannot honour", i+1)
				}
			case action == "helm/kind-action":
				// hack/kind's cluster, with kind's local registry recipe.
				if len(st.With) != 1 || st.With["registry"] != true || len(st.Env) > 0 {
					return fail("step %d: helm/kind-action takes only registry: true here (hack/kind makes the cluster); got %v", i+1, st.With)
				}
			case st.Run != "":
				m := kubeconfigRun.FindStringSubmatch(strings.TrimSpace(st.Run))
				if m == nil || len(st.Env) > 0 {
					return fail("step %d: the kind tests cannot run %q (they run `kind get kubeconfig --name NAME >FILE`)", i+1, st.Run)
				}
				q.kindName, q.kubeconfig = m[1], m[2]
				if path.IsAbs(q.kubeconfig) || strings.HasPrefix(path.Clean(q.kubeconfig), "..") {
					return fail("step %d: %s is outside the workspace, where the action's container cannot read it", i+1, q.kubeconfig)
				}
			case action == "k8s-testrun/k8s-testrun":
				if actionID != "" {
					return fail("step %d: a second step uses the action", i+1)
				}
				if q.kubeconfig == "" {
					return fail("step %d: the action runs before kind's kubeconfig is written", i+1)
				}
				actionID, q.env, q.with = st.ID, map[string]string{}, map[string]string{}
				for k, v := range st.Env {
					if strings.Contains(v, "${{") {
						return fail("step %d: env %s=%q: the kind tests cannot evaluate an expression", i+1, k, v)
					}
					q.env[k] = v
				}
				if q.env["KUBECONFIG"] != q.kubeconfig {
					return fail("step %d: env KUBECONFIG is %q, not %q, the file kind's kubeconfig was written to", i+1, q.env["KUBECONFIG"], q.kubeconfig)
				}
				for k, v := range st.With {
					if _, ok := meta.Inputs[k]; !ok {
						return fail("step %d: with %s: action.yml has no input %q", i+1, k, k)
					}
					s, ok := v.(string)
					if !ok || strings.Contains(s, "${{") {
						return fail("step %d: with %s: %v: the kind tests take strings without expressions", i+1, k, v)
					}
					if machineInputs[k] {
						return fail("step %d: with %s: the kind tests set this input themselves (this machine pulls no Docker Hub image)", i+1, k)
					}
					q.with[k] = s
				}
				q.projectPath = meta.Inputs["project_path"].Default
				if p, ok := q.with["project_path"]; ok {
					q.projectPath = p
				}
			case action == "actions/upload-artifact":
				m := outputExpr.FindStringSubmatch(fmt.Sprint(st.With["path"]))
				if m == nil || m[1] != actionID || actionID == "" {
					return fail("step %d: upload-artifact's path %v is not an output of the action's step", i+1, st.With["path"])
				}
				q.artifactOutput = m[2]
			default:
				return fail("step %d: the kind tests cannot run %q", i+1, st.Uses+st.Run)
			}
		}
	}
	if q.with == nil {
		return fail("no step uses k8s-testrun/k8s-testrun")
	}
	return q, nil
}

// TestQuickStartParse: the README's workflow parses into what the kind
// tests run, and a README that says what they cannot run fails to parse.
func TestQuickStartParse(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(support.RepoRoot(), "README.md"))
	require.NoError(t, err)
	actionYML, err := os.ReadFile(filepath.Join(support.RepoRoot(), "action.yml"))
	require.NoError(t, err)
	q, err := parseQuickStart(readme, actionYML)
	require.NoError(t, err)
	assert.Equal(t, q.kubeconfig, q.env["KUBECONFIG"])
	assert.NotEmpty(t, q.kindName)
	assert.NotEmpty(t, q.projectPath)
	assert.Equal(t, "junit_path", q.artifactOutput)

	block := func(s string) string {
		_, sec, _ := strings.Cut(s, quickStartHeading)
		sec, _, _ = strings.Cut(sec, "\n## ")
		return sec
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"renamed input", "project_path: .", "project_dir: .", `action.yml has no input "project_dir"`},
		{"machine input", "project_path: .", "base_image: python:3.12", "set this input themselves"},
		{"expression", "project_path: .", "project_path: ${{ github.workspace }}", "expressions"},
		{"kubeconfig elsewhere", "KUBECONFIG: kind-kubeconfig.yaml", "KUBECONFIG: other.yaml", `not "kind-kubeconfig.yaml"`},
		{"outside the workspace", ">kind-kubeconfig.yaml", ">/tmp/kind-kubeconfig.yaml", "outside the workspace"},
		{"another command", "kind get kubeconfig --name", "kind export kubeconfig --name", "cannot run"},
		{"another kind input", "registry: true", "registry: true\n          cluster_name: other", "registry: true here"},
		{"an unknown key", "      - id: tests\n", "      - id: tests\n        continue-on-error: true\n", `cannot honour the key "continue-on-error"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			sec := block(string(readme))
			require.Contains(t, sec, c.old, "the README's quick start still says it")
			broken := strings.Replace(string(readme), sec, strings.Replace(sec, c.old, c.new, 1), 1)
			_, err := parseQuickStart([]byte(broken), actionYML)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	_, err = parseQuickStart([]byte("# README\n"), actionYML)
	assert.ErrorContains(t, err, "no such section")
}
