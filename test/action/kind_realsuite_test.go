//go:build e2eaction

package action

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-testrun/k8s-testrun/bench"
	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// kindRealSuiteSelection is a cut of bench's real suite (pyflakes's own
// tests, from Debian's python3-pyflakes) of about 300 tests: five modules,
// test_api's five failures outside a source tree and the skips of
// test_type_annotations among them.
var kindRealSuiteSelection = []string{
	"tests/test_api.py", "tests/test_dict.py", "tests/test_imports.py",
	"tests/test_type_annotations.py", "tests/test_undefined_names.py",
}

// TestKindRealSuite runs the README's kind quick start on bench's real
// suite, one pod per test, on a base image with the Debian package pushed
// to kind's registry, and compares the verdicts test for test with plain
// pytest run whole in one pod of the image the action built.
func TestKindRealSuite(t *testing.T) {
	if kindCluster.name == "" {
		t.Skip("no kind cluster: run make e2e-kind")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	codename, err := rootfs.OSCodename()
	require.NoError(t, err)
	home, _ := os.UserHomeDir()
	tarPath, err := rootfs.Build(ctx, filepath.Join(home, ".cache", "k8s-testrun"), bench.RealSuiteRecipe(codename), slog.New(slog.NewTextHandler(os.Stderr, nil)))
	require.NoError(t, err)
	img, err := rootfs.PythonImage(tarPath)
	require.NoError(t, err)
	repo := kindCluster.registry + "/k8s-testrun/python-pyflakes"
	digest, err := rootfs.Push(ctx, repo+":"+codename, img)
	require.NoError(t, err)
	project := t.TempDir()
	_, err = bench.RealSuiteProject(tarPath, project)
	require.NoError(t, err)

	r := runQuickStart(ctx, t, project, map[string]string{
		"base_image":  kindRegistryName(repo + "@" + digest.String()),
		"pytest_args": strings.Join(kindRealSuiteSelection, " "),
		"parallelism": "8",
	})
	assert.Equal(t, 1, r.exit, "1: tests failed (five of test_api fail outside a source tree)\nstdout:\n%s", lastLines(r.stdout, 40))
	require.NotEmpty(t, r.artifact)
	b, err := os.ReadFile(r.artifact)
	require.NoError(t, err, "the JUnit file is in the workspace")
	ours, err := junit.Parse(strings.NewReader(string(b)))
	require.NoError(t, err)
	var ids []string
	pods := map[string]bool{}
	for _, s := range ours.Suites {
		for _, tc := range s.Testcases {
			id, _ := tc.Property(junit.PropertyTestID)
			ids = append(ids, id)
			pod, _ := tc.Property(junit.PropertyPod)
			pods[pod] = true
		}
	}
	require.GreaterOrEqual(t, len(ids), 200, "a suite of a few hundred tests")
	require.LessOrEqual(t, len(ids), 400)
	assert.Len(t, pods, len(ids), "one pod per test")
	assert.Equal(t, r.outs["total"], strconv.Itoa(len(ids)))

	plain, err := bench.PlainPytest(ctx, s.client, r.j.namespace, r.outs["image"], kindRealSuiteSelection)
	require.NoError(t, err, "plain pytest in the image the action built")
	diffs, counts, err := bench.CompareWithPlain(plain, ours, ids)
	require.NoError(t, err)
	assert.Empty(t, diffs, "verdicts that differ from plain pytest's")
	assert.Contains(t, counts, "failed 5", "the suite's five failures")
	assert.Contains(t, counts, "skipped", "the suite's skips")
	t.Logf("real suite on kind: %d tests, %d pods; plain pytest: %s; %d verdicts differ; the action's step took %s",
		len(ids), len(pods), counts, len(diffs), r.took.Round(time.Second))

	requireNoPods(t, metav1.NamespaceDefault)
	requireNoPods(t, r.j.namespace)
	requireNoContainer(t, r.j)
}
