//go:build e2eaction

package action

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
	"github.com/k8s-testrun/k8s-testrun/internal/apicov"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/test/support"
)

// kindEnvVar names the env file of a real kind cluster (go run ./hack/kind
// up writes it). When it is set, the suite runs against that cluster as a
// workflow with kind does, instead of the relays in front of the local
// cluster: `make e2e-kind` runs TestKind* so.
const kindEnvVar = "K8S_TESTRUN_KIND_ENV"

// kind is the real kind cluster of the run, when there is one.
var kindCluster struct {
	name, registry, nodeImage string
	// kubernetesBase is the Python base with Debian's Kubernetes client
	// in kind's registry, for testdata/apicov.
	kubernetesBase string
}

// parseEnvFile reads NAME=value lines.
func parseEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env, nil
}

// setUpKind points the suite at the kind cluster: kind's own kubeconfig
// (context kind-<name>, server on 127.0.0.1) for the action, the Python
// base image pushed to kind's registry from the machine as a workflow
// pushes it (localhost:PORT), and the action's image built.
func (s *suite) setUpKind(ctx context.Context) error {
	env, err := parseEnvFile(os.Getenv(kindEnvVar))
	if err != nil {
		return fmt.Errorf("no kind cluster: %w; run go run ./hack/kind up", err)
	}
	if err := readEnvFile(dockerEnv); err != nil && os.Getenv("DOCKER_HOST") == "" {
		return fmt.Errorf("no Docker engine: %w; run make docker-up", err)
	}
	s.dockerHost = os.Getenv("DOCKER_HOST")
	kindCluster.name, kindCluster.registry, kindCluster.nodeImage = env["K8S_TESTRUN_KIND_CLUSTER"], env["K8S_TESTRUN_KIND_REGISTRY"], env["K8S_TESTRUN_KIND_NODE_IMAGE"]
	if kindCluster.name == "" || kindCluster.registry == "" || env["KUBECONFIG"] == "" {
		return fmt.Errorf("%s lacks KUBECONFIG, K8S_TESTRUN_KIND_CLUSTER or K8S_TESTRUN_KIND_REGISTRY", os.Getenv(kindEnvVar))
	}
	if s.kubeconfig, err = os.ReadFile(env["KUBECONFIG"]); err != nil {
		return err
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(s.kubeconfig)
	if err != nil {
		return err
	}
	if s.client, err = kubernetes.NewForConfig(rc); err != nil {
		return err
	}

	home, _ := os.UserHomeDir()
	codename, err := rootfs.OSCodename()
	if err != nil {
		return err
	}
	tarPath, err := rootfs.Build(ctx, filepath.Join(home, ".cache", "k8s-testrun"),
		rootfs.Recipe{Name: "python", Codename: codename, Packages: rootfs.PythonPackages}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	img, err := rootfs.PythonImage(tarPath)
	if err != nil {
		return err
	}
	repo := kindCluster.registry + "/k8s-testrun/python"
	digest, err := rootfs.Push(ctx, repo+":"+codename, img)
	if err != nil {
		return err
	}
	s.registry, s.baseImage = kindCluster.registry, repo+"@"+digest.String()
	if kindCluster.kubernetesBase, err = pushKubernetesBase(ctx, codename); err != nil {
		return err
	}
	return s.buildActionImage(ctx)
}

// pushKubernetesBase pushes the Python base with the Kubernetes client to
// kind's registry, from the root filesystem the local cluster's recipe
// caches, and returns its reference by digest.
func pushKubernetesBase(ctx context.Context, codename string) (string, error) {
	home, _ := os.UserHomeDir()
	tarPath, err := rootfs.Build(ctx, filepath.Join(home, ".cache", "k8s-testrun"), rootfs.KubernetesRecipe(codename), slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return "", err
	}
	img, err := rootfs.PythonImage(tarPath)
	if err != nil {
		return "", err
	}
	repo := kindCluster.registry + "/k8s-testrun/python"
	digest, err := rootfs.Push(ctx, repo+":"+codename+"-kubernetes", img)
	if err != nil {
		return "", err
	}
	return repo + "@" + digest.String(), nil
}

// TestKindNode: the cluster is kind's, its one node <name>-control-plane
// Ready on containerd, as `kubectl get nodes -o wide` shows it.
func TestKindNode(t *testing.T) {
	if kindCluster.name == "" {
		t.Skip("no kind cluster: run make e2e-kind")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes, err := s.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, nodes.Items, 1)
	n := nodes.Items[0]
	assert.Equal(t, kindCluster.name+"-control-plane", n.Name)
	assert.True(t, strings.HasPrefix(n.Status.NodeInfo.ContainerRuntimeVersion, "containerd://"), "runtime %s", n.Status.NodeInfo.ContainerRuntimeVersion)
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	assert.True(t, ready, "node %s is Ready", n.Name)
	// The node runs as a container of the engine, from the node image.
	out, err := docker(ctx, nil, "inspect", "-f", "{{.Config.Image}} {{.State.Running}}", n.Name)
	require.NoError(t, err)
	assert.Equal(t, kindCluster.nodeImage+" true", strings.TrimSpace(string(out)))
}

// TestKindSample runs the README's kind quick start (runQuickStart) on
// testdata/sample, one pod per test, against the kind cluster: the action
// finds kind's kubeconfig through the step's KUBECONFIG in the workspace,
// the image goes to kind's registry through kind-registry on the kind
// network, and the nodes pull it by the name the local-registry-hosting
// ConfigMap gives (localhost:PORT), which their containerd resolves to
// kind-registry through hosts.toml.
func TestKindSample(t *testing.T) {
	if kindCluster.name == "" {
		t.Skip("no kind cluster: run make e2e-kind")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r := runQuickStart(ctx, t, filepath.Join(support.RepoRoot(), "testdata", "sample"),
		map[string]string{"base_image": kindRegistryName(s.baseImage)})
	j, stdout, stderr := r.j, r.stdout, r.stderr
	assert.Equal(t, 1, r.exit, "1: tests failed (the sample fails on purpose)\nstdout:\n%s", lastLines(stdout, 40))
	assert.True(t, strings.HasPrefix(stdout, "::add-mask::"+token+"\n"), "the token is masked first")
	assert.Equal(t, 1, strings.Count(stdout+stderr, token), "the token shows only in its mask command")
	assert.Contains(t, stdout+stderr, "kind-registry:5000", "the action pushes to kind-registry on the kind network")

	// What the upload step uploads: the JUnit file in the workspace.
	require.NotEmpty(t, r.artifact, "the README's upload step names the action's junit_path output")
	report, err := os.ReadFile(r.artifact)
	require.NoError(t, err, "the JUnit file is in the workspace")
	ts, err := junit.Parse(strings.NewReader(string(report)))
	require.NoError(t, err)
	require.Len(t, ts.Suites, 1)
	require.Len(t, ts.Suites[0].Testcases, 12)
	counts := map[junit.Status]int{}
	pods := map[string]bool{}
	for _, tc := range ts.Suites[0].Testcases {
		counts[tc.Status()]++
		pod, _ := tc.Property(junit.PropertyPod)
		pods[pod] = true
	}
	assert.Len(t, pods, 12, "one pod per test, the action's default")
	outs := r.outs
	assert.Equal(t, "12", outs["total"])
	assert.Equal(t, fmt.Sprint(counts[junit.StatusPassed]), outs["passed"])
	assert.Equal(t, fmt.Sprint(counts[junit.StatusFailed]), outs["failed"])
	assert.Equal(t, fmt.Sprint(counts[junit.StatusError]), outs["errors"])
	assert.Equal(t, 3, counts[junit.StatusFailed]+counts[junit.StatusError], "the sample's two failures and one fixture error")
	assert.Equal(t, "k8s-testrun-junit.xml", outs["junit_path"])
	assert.Equal(t, "https://github.example/o/r/runs/7", outs["check_url"])
	image := outs["image"]
	assert.True(t, strings.HasPrefix(image, kindCluster.registry+"/"), "pods name the image as the ConfigMap's host: %s", image)
	assert.Contains(t, image, "@sha256:")

	summary, err := os.ReadFile(filepath.Join(j.fileCommands, j.summary))
	require.NoError(t, err)
	assert.Contains(t, string(summary), "### ❌ k8s-testrun: ")
	assert.Contains(t, string(summary), "| **Total** | **12** |")

	reqs := r.api.Got()
	require.GreaterOrEqual(t, len(reqs), 2, "create and completion")
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, "/repos/o/r/check-runs", reqs[0].Path)
	assert.Equal(t, headSHA, reqs[0].Body["head_sha"])
	done := reqs[len(reqs)-1]
	assert.Equal(t, "completed", done.Body["status"])
	assert.Equal(t, "failure", done.Body["conclusion"])

	// One pod per test, in the kubeconfig's namespace (kind's: default):
	// the kubelet pulled or found the test image by the ConfigMap's name
	// for each of them, and the registry container served its manifest to
	// the node.
	ectx, ecancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ecancel()
	events, err := s.client.CoreV1().Events(metav1.NamespaceDefault).List(ectx, metav1.ListOptions{})
	require.NoError(t, err)
	pulled := map[string]bool{}
	for _, e := range events.Items {
		if (e.Reason == "Pulled" || e.Reason == "Pulling") && strings.Contains(e.Message, image) {
			pulled[e.InvolvedObject.Name] = true
		}
	}
	assert.GreaterOrEqual(t, len(pulled), 12, "pods whose image came by %s: %v", image, pulled)
	_, digest, _ := strings.Cut(image, "@")
	logs, err := exec.CommandContext(ectx, dockerBin, "logs", "kind-registry").CombinedOutput()
	require.NoError(t, err, "%s", logs)
	assert.Contains(t, string(logs), "/manifests/"+digest, "the node pulled the test image from the kind-registry container")

	requireNoPods(t, metav1.NamespaceDefault)
	requireNoContainer(t, j)
}

// TestKindAPICoverage runs the action on testdata/apicov, one pod per
// test, against the kind cluster made with the README's audit config,
// with api_coverage kind:CLUSTER: the action reads the API server's audit
// log from the control-plane container through the Docker socket, and
// each test's endpoints in api-coverage.json are exactly the ones it
// calls, its JUnit property counts them and the job summary has the
// section.
func TestKindAPICoverage(t *testing.T) {
	if kindCluster.name == "" {
		t.Skip("no kind cluster: run make e2e-kind")
	}
	j := newJob(t, filepath.Join(support.RepoRoot(), "testdata", "apicov"))
	api := newGitHubAPI(t, j.gateway, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	require.NoError(t, support.CreateAPICoverageAccount(ctx, s.client, j.namespace))
	with := commonInputs(j, "apicov")
	with["base_image"] = kindRegistryName(kindCluster.kubernetesBase)
	with["pod_per"] = "test"
	with["junit_path"] = "reports/junit.xml"
	with["pod_template"] = "spec:\n  serviceAccountName: " + support.APICoverageAccount + "\n"
	with["api_coverage"] = "kind:" + kindCluster.name

	cmd := j.dockerRun(ctx, t, api.URL, with)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("docker run took %s, exit %d\nstderr:\n%s", time.Since(start).Round(time.Second), cmd.ProcessState.ExitCode(), lastLines(stderr.String(), 40))
	require.NoError(t, err, "stdout:\n%s", lastLines(stdout.String(), 40))

	b, err := os.ReadFile(filepath.Join(j.workspace, "reports", apicov.ReportFile))
	require.NoError(t, err, "api-coverage.json is beside the JUnit report")
	var r apicov.Report
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Contains(t, r.Source, "kind:"+kindCluster.name)
	got := map[string][]string{}
	for _, tc := range r.Tests {
		got[tc.Test] = slices.Sorted(maps.Keys(tc.Endpoints))
		assert.False(t, tc.Grouped, tc.Test)
	}
	want := map[string][]string{}
	union := map[string]bool{}
	for id, eps := range support.APICoverageExpected {
		want[id] = slices.Sorted(slices.Values(eps))
		for _, e := range eps {
			union[e] = true
		}
	}
	assert.Equal(t, want, got, "each test's endpoints, exactly")
	assert.Equal(t, len(union), r.Hit)
	assert.Positive(t, r.Universe)
	assert.Zero(t, r.Unmatched, "every request of the tests is an endpoint: %v", r.UnmatchedExamples)

	report, err := os.ReadFile(filepath.Join(j.workspace, "reports", "junit.xml"))
	require.NoError(t, err)
	ts, err := junit.Parse(strings.NewReader(string(report)))
	require.NoError(t, err)
	require.Len(t, ts.Suites, 1)
	require.Len(t, ts.Suites[0].Testcases, len(support.APICoverageExpected))
	pods := map[string]bool{}
	for _, tc := range ts.Suites[0].Testcases {
		id, _ := tc.Property(junit.PropertyTestID)
		v, ok := tc.Property(apicov.PropertyEndpoints)
		if assert.True(t, ok, "%s has the endpoint count", id) {
			assert.Equal(t, strconv.Itoa(len(support.APICoverageExpected[id])), v, id)
		}
		pod, _ := tc.Property(junit.PropertyPod)
		pods[pod] = true
	}
	assert.Len(t, pods, len(support.APICoverageExpected), "one pod per test")
	summary, err := os.ReadFile(filepath.Join(j.fileCommands, j.summary))
	require.NoError(t, err)
	assert.Contains(t, string(summary), fmt.Sprintf("#### API coverage\n\n**%d of %d endpoints (%s)**", len(union), r.Universe, r.Percent()))
	t.Logf("API coverage on kind: %d of %d endpoints (%s); %d requests counted, %d events of other pods, read %d lines (%d bytes)",
		r.Hit, r.Universe, r.Percent(), r.Counted, r.OtherPods, r.Read.Lines, r.Read.Bytes)

	requireNoPods(t, j.namespace)
	requireNoContainer(t, j)
}
