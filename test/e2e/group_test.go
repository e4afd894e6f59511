//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

// podsOf maps each testcase of a report to the pod that ran it.
func podsOf(t *testing.T, ts junit.Testsuites) map[string]string {
	t.Helper()
	out := map[string]string{}
	for key, tc := range byKey(ts) {
		pod, ok := tc.Property(junit.PropertyPod)
		require.True(t, ok, "%s has its pod", key)
		out[key] = pod
	}
	return out
}

func distinct(m map[string]string) int {
	seen := map[string]bool{}
	for _, v := range m {
		seen[v] = true
	}
	return len(seen)
}

// TestGroupedRunsMatchPlainPytest runs the sample with pods per file, per
// class and in 3 shards, and compares each report, test for test, with
// plain pytest on the same project in the same image.
func TestGroupedRunsMatchPlainPytest(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-group")
	ctx := Context(t, 10*time.Minute)
	var plain map[string]junit.Testcase
	for _, tt := range []struct {
		name string
		args []string
		pods int
	}{
		{"per file", []string{"--pod-per", "file"}, 3},
		{"per class", []string{"--pod-per", "class"}, 4},
		{"3 shards", []string{"--shards", "3"}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "junit.xml")
			res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, tt.args...), Testdata("sample"))...)
			assert.Equal(t, 1, res.Exit, "the sample has failing tests")
			assert.Contains(t, res.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
			c.RequireNoRunPods(t, ns)
			ours := readReport(t, report)
			if plain == nil {
				plain = byKey(c.plainPytest(t, ns, suiteProperty(ours, "k8s-testrun.image")))
			}
			requireSameAsPlain(t, plain, byKey(ours))
			assert.Equal(t, tt.pods, distinct(podsOf(t, ours)), "tests share pods as asked")
		})
	}
}

// TestGroupedPodDies runs two files, each in a pod, whose second test
// allocates past the memory limit or sleeps past the per-test timeout: the
// first test keeps its verdict, the second is an error with the reason,
// and the third runs in a fresh pod and passes.
func TestGroupedPodDies(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-group-dies")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	project := Testdata("grouped-limits")
	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--pod-per", "file", "--timeout", "20s",
		"--pod-template", filepath.Join(project, "pod-template.yaml")), project)...)
	assert.Equal(t, 2, res.Exit, "infrastructure reasons give the infrastructure exit code")
	assert.Contains(t, res.Stdout, "4 passed, 2 errors")
	c.RequireNoRunPods(t, ns)

	cases := requireGroupedPodDeaths(t, readReport(t, report))
	assert.Contains(t, cases["tests.test_hangs::test_sleeps_past_timeout"].Error.Message, "timeout of 20s")
}

// requireGroupedPodDeaths checks the report of testdata/grouped-limits run
// a pod per file: in each file the first test passed, the second is an
// error with its pod's reason, and the third passed in a fresh pod; nothing
// is lost or counted twice. It returns the testcases by key.
func requireGroupedPodDeaths(t *testing.T, ts junit.Testsuites) map[string]junit.Testcase {
	t.Helper()
	cases, pods := byKey(ts), podsOf(t, ts)
	require.Len(t, cases, 6, "nothing lost, nothing counted twice")
	for _, file := range []struct{ module, dying, reason string }{
		{"tests.test_dies", "test_allocates_past_memory_limit", "OOMKilled"},
		{"tests.test_hangs", "test_sleeps_past_timeout", "DeadlineExceeded"},
	} {
		first, dying, third := file.module+"::test_first", file.module+"::"+file.dying, file.module+"::test_third"
		assert.Equal(t, junit.StatusPassed, cases[first].Status(), first)
		require.NotNil(t, cases[dying].Error, dying)
		assert.Equal(t, file.reason, cases[dying].Error.Type, dying)
		assert.Equal(t, junit.StatusPassed, cases[third].Status(), third)
		assert.Equal(t, pods[first], pods[dying], "the first two ran in one pod")
		assert.NotEqual(t, pods[dying], pods[third], "the third ran in a fresh pod")
	}
	return cases
}

// TestDurationsFileRebalancesShards runs a project whose tests take 4, 2
// and 0 seconds in 2 shards twice with one durations file: with no history
// the shards split by count; the next run, knowing the durations, gives the
// 4-second test a shard of its own.
func TestDurationsFileRebalancesShards(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-durations")
	ctx := Context(t, 5*time.Minute)
	durations := filepath.Join(t.TempDir(), "durations.json")
	run := func() map[string]string {
		report := filepath.Join(t.TempDir(), "junit.xml")
		res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--shards", "2", "--durations-file", durations), Testdata("timed"))...)
		require.Equal(t, 0, res.Exit, res.Stderr)
		c.RequireNoRunPods(t, ns)
		return podsOf(t, readReport(t, report))
	}
	const slow, mid = "tests.test_timed::test_four_seconds", "tests.test_timed::test_two_seconds"
	first := run()
	b, err := os.ReadFile(durations)
	require.NoError(t, err, "the run wrote the durations file")
	var f struct {
		Version int                `json:"version"`
		Tests   map[string]float64 `json:"tests"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	require.Len(t, f.Tests, 4)
	assert.GreaterOrEqual(t, f.Tests["tests/test_timed.py::test_four_seconds"], 4.0)

	second := run()
	sharing := func(pods map[string]string) int {
		n := 0
		for key, pod := range pods {
			if pod == pods[slow] && key != slow {
				n++
			}
		}
		return n
	}
	assert.Equal(t, 1, sharing(first), "with no history the shards split 2 and 2")
	assert.Zero(t, sharing(second), "with history the slowest test has a shard of its own")
	assert.Equal(t, second[mid], second["tests.test_timed::test_quick_one"], "the other three share the other shard")
	assert.Equal(t, second[mid], second["tests.test_timed::test_quick_two"], "the other three share the other shard")
}

// requireSameAsPlain checks the testcases of a report against plain
// pytest's, both by classname::name: the same tests, each with the same
// verdict, message, file and line, and a time.
func requireSameAsPlain(t *testing.T, plain, got map[string]junit.Testcase) {
	t.Helper()
	require.Len(t, got, len(plain))
	for key, want := range plain {
		tc, ok := got[key]
		require.True(t, ok, "%s is in the report", key)
		assert.Equal(t, want.Status(), tc.Status(), key)
		if d := want.Detail(); d != nil && want.Status() != junit.StatusPassed {
			require.NotNil(t, tc.Detail(), key)
			assert.Equal(t, d.Message, tc.Detail().Message, key)
		}
		assert.Equal(t, want.File, tc.File, key)
		assert.Equal(t, want.Line, tc.Line, key)
		assert.NotEmpty(t, tc.Time, key)
	}
}
