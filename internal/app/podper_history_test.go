package app

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
)

// With --history, --pod-per auto's threshold comes from the per-pod
// overhead the history store's newest record measured, before the
// durations file's.
func TestPodPerAutoThresholdComesFromTheHistoryStore(t *testing.T) {
	dir := t.TempDir()
	hist, durations := filepath.Join(dir, "history"), filepath.Join(dir, "durations.json")
	slow, fast := "tests/test_a.py::test_slow", "tests/test_a.py::test_fast"
	r := history.NewRecord("0123456789abcdef0123456789abcdef01234567", "main", t0, []history.Test{
		{ID: slow, Verdict: history.VerdictPassed, Duration: 12 * time.Second, Attempts: 1},
		{ID: fast, Verdict: history.VerdictPassed, Duration: 100 * time.Millisecond, Attempts: 1},
	})
	r.PodOverheadSeconds = 1
	require.NoError(t, history.Store{Dir: hist}.Save(r))
	require.NoError(t, history.Save(durations, nil, map[string]time.Duration{slow: 12 * time.Second}))
	require.NoError(t, history.SetOverhead(durations, 4*time.Second))

	p := &pipeline{cfg: config.Config{PodPer: config.PodPerAuto, Parallelism: 4, History: hist, DurationsFile: durations},
		log: slog.New(slog.DiscardHandler)}
	past, err := p.loadDurations()
	require.NoError(t, err)
	overhead, err := p.loadOverhead()
	require.NoError(t, err)
	assert.Equal(t, time.Second, overhead, "the history store's figure, not the durations file's 4s")
	cases := []plan.Case{{ID: "s", TestID: slow}, {ID: "f", TestID: fast}}
	units := p.groupUnits(cases, past, overhead)
	// 1 s of overhead sets the threshold at 9 s, so the 12 s test gets a
	// pod of its own; the durations file's 4 s would have set it at 36 s.
	assert.Len(t, units, 2)
	assert.Contains(t, p.planNote, "tests expected over 9s get a pod each (pod overhead 1s, measured")
	assert.Contains(t, p.planNote, "1 such")

	p.cfg.History = filepath.Join(dir, "empty")
	overhead, err = p.loadOverhead()
	require.NoError(t, err)
	assert.Equal(t, 4*time.Second, overhead, "a store with no figure leaves the durations file's")
}
