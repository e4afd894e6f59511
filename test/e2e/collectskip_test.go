//go:build e2e

package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k8s-testrun/k8s-testrun/api/v1alpha1"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// pytestSummary matches pytest's closing line, "1 failed, 2 passed, 5
// skipped in 0.06s", with or without its "=" rule.
var pytestSummary = regexp.MustCompile(`(?m)^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [0-9.]+s\b`)

// plainPytestRun runs the whole project in one pod of image, as plainPytest
// does, and returns pytest's JUnit and the counts of its closing line.
func (c *Cluster) plainPytestRun(t *testing.T, ns, image string) (junit.Testsuites, string) {
	t.Helper()
	const marker = "=== k8s-testrun e2e: the summary of pytest ==="
	log := c.runScript(t, ns, "plain-pytest-run", image, "python -m pytest -q -p no:cacheprovider -o junit_family=xunit1 --junitxml=/tmp/junit.xml >/tmp/out 2>&1; "+
		"cat /tmp/junit.xml; echo; echo '"+marker+"'; tail -n 1 /tmp/out")
	xmlPart, summary, ok := strings.Cut(log, marker)
	require.True(t, ok, "plain pytest's log:\n%s", log)
	ts, err := junit.Parse(strings.NewReader(xmlPart))
	require.NoError(t, err, "plain pytest's JUnit:\n%s", log)
	m := pytestSummary.FindStringSubmatch(summary)
	require.NotNil(t, m, "plain pytest's summary line: %q", summary)
	return ts, m[1]
}

// TestCollectionSkipsMatchPlainPytest runs testdata/collectskip, whose
// modules skip themselves at import (pytest.importorskip and
// pytest.skip(allow_module_level=True)) beside a module marked skip and
// plain tests, and compares the merged report with plain pytest's in one
// pod of the same image: the same testcases (the skipped modules as pytest
// names them), verdicts and skip messages, the same counts; the skipped
// modules ran in no pod.
func TestCollectionSkipsMatchPlainPytest(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-collectskip")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report), Testdata("collectskip"))...)
	assert.Equal(t, 1, res.Exit, "the project has a failing test")
	c.RequireNoRunPods(t, ns)

	ours := readReport(t, report)
	plain, plainCounts := c.plainPytestRun(t, ns, suiteProperty(ours, "k8s-testrun.image"))
	assert.Equal(t, "1 failed, 2 passed, 5 skipped", plainCounts, "what plain pytest says of the project")
	assert.Contains(t, res.Stdout, plainCounts, "the same counts in the summary")

	got, want := byKey(ours), byKey(plain)
	require.Len(t, want, 8)
	require.Len(t, got, len(want))
	for key, w := range want {
		tc, ok := got[key]
		require.True(t, ok, "%s is in the report", key)
		assert.Equal(t, w.Status(), tc.Status(), key)
		assert.Equal(t, w.File, tc.File, key)
		assert.Equal(t, w.Line, tc.Line, key)
		if w.Status() == junit.StatusSkipped {
			require.NotNil(t, tc.Skipped, key)
			assert.Equal(t, w.Skipped.Message, tc.Skipped.Message, key)
			assert.Equal(t, w.Skipped.Type, tc.Skipped.Type, key)
		}
	}
	s, p := ours.Suites[0], plain.Suites[0]
	assert.Equal(t, []int{p.Tests, p.Failures, p.Errors, p.Skipped}, []int{s.Tests, s.Failures, s.Errors, s.Skipped}, "the suite's counts")

	pods := map[string]bool{}
	for _, module := range []string{"::tests.test_importorskip", "::tests.test_skip_module"} {
		tc := got[module]
		require.NotNil(t, tc.Skipped, module)
		assert.Equal(t, want[module].Skipped.Text, tc.Skipped.Text, "%s keeps pytest's reason", module)
		_, ok := tc.Property(junit.PropertyPod)
		assert.False(t, ok, "%s ran in no pod", module)
	}
	for key, tc := range got {
		if pod, ok := tc.Property(junit.PropertyPod); ok {
			pods[pod] = true
		} else {
			assert.Contains(t, []string{"::tests.test_importorskip", "::tests.test_skip_module"}, key, "only the skipped modules have no pod")
		}
	}
	assert.Len(t, pods, 6, "one pod per collected test, none for the skipped modules")
}

// testCollectionSkips runs testdata/collectskip in operator mode: the
// report and counts equal plain pytest's, and the TestRun counts the
// skipped modules, which have no TestCase.
func (e *opEnv) testCollectionSkips(t *testing.T) {
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "operator.xml")
	res := e.c.RunCLI(ctx, t, nil, "run", "--mode", "operator", "--namespace", e.ns, "--repository", e.c.Repository(t),
		"--base-image", e.c.BaseImage, "--junit", report, Testdata("collectskip"))
	assert.Equal(t, 1, res.Exit, "the project has a failing test")

	ours := readReport(t, report)
	plain, plainCounts := e.c.plainPytestRun(t, e.ns, suiteProperty(ours, "k8s-testrun.image"))
	assert.Equal(t, "1 failed, 2 passed, 5 skipped", plainCounts)
	assert.Contains(t, res.Stdout, plainCounts, "the same counts in the summary")
	got, want := byKey(ours), byKey(plain)
	require.Len(t, got, len(want))
	for key, w := range want {
		tc, ok := got[key]
		require.True(t, ok, "%s is in the report", key)
		assert.Equal(t, w.Status(), tc.Status(), key)
		if w.Skipped != nil {
			require.NotNil(t, tc.Skipped, key)
			assert.Equal(t, w.Skipped.Message, tc.Skipped.Message, key)
		}
	}
	for _, module := range []string{"::tests.test_importorskip", "::tests.test_skip_module"} {
		assert.Equal(t, want[module].Skipped.Text, got[module].Skipped.Text, module)
	}

	list := &v1alpha1.TestRunList{}
	require.NoError(t, e.cr.List(ctx, list, client.InNamespace(e.ns)))
	var mine *v1alpha1.TestRun
	for i := range list.Items {
		if strings.HasPrefix(list.Items[i].Name, "collectskip-") {
			mine = &list.Items[i]
		}
	}
	require.NotNil(t, mine, "the run stays in the cluster")
	st := mine.Status
	assert.Equal(t, []int32{8, 2, 1, 0, 5, 2}, []int32{st.Total, st.Passed, st.Failed, st.Errors, st.Skipped, st.CollectionSkipped},
		"total, passed, failed, errors, skipped, skipped at collection")
	assert.Len(t, e.cases(ctx, t, mine.Name), 6, "a TestCase per collected test, none for the skipped modules")
	e.noPods(ctx, t, mine.Name)
}

// TestEveryModuleSkippedIsNoTests selects only the modules of
// testdata/collectskip that skip themselves at import: as plain pytest
// (exit code 5, no tests collected), nothing runs, and the one line says
// which modules pytest skipped, with exit code 2.
func TestEveryModuleSkippedIsNoTests(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-allskipped")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report), Testdata("collectskip"), "--",
		"tests/test_importorskip.py", "tests/test_skip_module.py")...)
	assert.Equal(t, 2, res.Exit)
	assert.Equal(t, "k8s-testrun: no tests to run in "+Testdata("collectskip")+` (selection ["tests/test_importorskip.py" "tests/test_skip_module.py"]): `+
		"pytest skipped every test module at collection (tests/test_importorskip.py, tests/test_skip_module.py); install what they import or fix the selection after --",
		lastLine(res.Stderr))
	c.RequireNoRunPods(t, ns)
}
