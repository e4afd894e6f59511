//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPodPerAuto runs the sample with --pod-per auto twice on one
// durations file. The first run has no history: it groups by file, as
// --pod-per file does, and says so. The history it leaves is then edited
// so that one test took a minute and a pod's overhead 2 s; the second run gives that test a pod of
// its own, packs the rest by file, and says what it chose.
func TestPodPerAuto(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-auto")
	ctx := Context(t, 10*time.Minute)
	durations := filepath.Join(t.TempDir(), "durations.json")
	run := func() (map[string]string, string) {
		report := filepath.Join(t.TempDir(), "junit.xml")
		res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--pod-per", "auto", "--durations-file", durations), Testdata("sample"))...)
		assert.Equal(t, 1, res.Exit, "the sample has failing tests")
		assert.Contains(t, res.Stdout, "2 failed, 7 passed, 2 skipped, 1 error")
		c.RequireNoRunPods(t, ns)
		return podsOf(t, readReport(t, report)), res.Stdout
	}

	first, out := run()
	assert.Contains(t, out, "pod per auto: no timing history for these tests, so one pod per file (3 pods)\n")
	assert.Equal(t, 3, distinct(first), "one pod per file")
	for key, pod := range first {
		for other, p := range first {
			assert.Equal(t, fileKey(key) == fileKey(other), pod == p, "%s and %s share a pod only within a file", key, other)
		}
	}

	b, err := os.ReadFile(durations)
	require.NoError(t, err, "the run wrote the durations file")
	var f struct {
		Version     int                `json:"version"`
		Tests       map[string]float64 `json:"tests"`
		PodOverhead float64            `json:"pod_overhead_seconds"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	assert.Positive(t, f.PodOverhead, "the run recorded its pods' overhead")
	const slowID, slow = "tests/test_basic.py::test_passes", "tests.test_basic::test_passes"
	require.Contains(t, f.Tests, slowID)
	f.Tests[slowID] = 60
	f.PodOverhead = 2 // a threshold of 18 s
	b, err = json.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(durations, b, 0o600))

	second, out := run()
	assert.Contains(t, out, "pod per auto: tests expected over 18s get a pod each (pod overhead 2s, measured; at most 10% of pod time), 1 such;")
	for key, pod := range second {
		if key != slow {
			assert.NotEqual(t, second[slow], pod, "%s does not share the slow test's pod", key)
		}
	}
	for key, pod := range second {
		for other, p := range second {
			if key != slow && other != slow && fileKey(key) == fileKey(other) {
				assert.Equal(t, pod, p, "%s and %s: the rest stay together by file", key, other)
			}
		}
	}
}

// fileKey is the module of a report key (classname::name), where the
// classname is the sample's package and module ("tests.test_basic"),
// then any class.
func fileKey(key string) string {
	classname, _, _ := strings.Cut(key, "::")
	parts := strings.SplitN(classname, ".", 3)
	return strings.Join(parts[:min(2, len(parts))], ".")
}
