package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext/runnertest"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// TestCheckQuarantine: an entry that names no collected test, in any base,
// is a bad input (exit 2), one line per entry.
func TestCheckQuarantine(t *testing.T) {
	l, err := quarantine.Parse([]byte("quarantine:\n"+
		"- {test: 'tests/a.py::test_x', until: 2026-12-31, reason: r}\n"+
		"- {test: 'tests/b.py::*', until: 2026-12-31, reason: r}\n"+
		"- {test: 'tests/typo.py::test_x', until: 2026-12-31, reason: r}\n"+
		"- {test: 'tests/c.py::test_y', until: 2026-12-31, reason: r}\n"), "q.yaml")
	require.NoError(t, err)
	bases := []*base{
		{found: discover.Collection{IDs: []string{"tests/a.py::test_x", "tests/b.py::test_1"}}},
		{found: discover.Collection{IDs: []string{"tests/c.py::test_y"}}},
	}
	err = checkQuarantine(l, bases, false, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.True(t, isInputError(err), "exit code 2")
	assert.Equal(t, `quarantine: q.yaml: entry 3 (test "tests/typo.py::test_x"): matches no collected test; fix the test id or pattern, or remove the entry`, err.Error())

	assert.NoError(t, checkQuarantine(l, append(bases, &base{found: discover.Collection{IDs: []string{"tests/typo.py::test_x"}}}), false, slog.New(slog.DiscardHandler)))
	assert.NoError(t, checkQuarantine(nil, bases, false, slog.New(slog.DiscardHandler)))
}

// TestCheckQuarantineUnderASelection: a run given a selection (paths, -k,
// -m after --) collects only part of the project, so an entry naming a
// test outside it is no error: one warning line names the entries that
// match nothing, defused like every log line, and the run goes on.
func TestCheckQuarantineUnderASelection(t *testing.T) {
	l, err := quarantine.Parse([]byte("quarantine:\n"+
		"- {test: 'tests/a.py::test_x', until: 2026-12-31, reason: r}\n"+
		"- {test: 'tests/b.py::*', until: 2026-12-31, reason: r}\n"+
		"- {test: '::set-output name=x::y', until: 2026-12-31, reason: r}\n"), "q.yaml")
	require.NoError(t, err)
	bases := []*base{{found: discover.Collection{IDs: []string{"tests/a.py::test_x"}}}}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(logtext.NewWriter(&buf), &slog.HandlerOptions{Level: slog.LevelWarn}))
	require.NoError(t, checkQuarantine(l, bases, true, log))
	out := buf.String()
	assert.Equal(t, 1, strings.Count(out, "\n"), "one line: %s", out)
	assert.Contains(t, out, "level=WARN")
	assert.Contains(t, out, `q.yaml: 2 of 3 entries match no test of this selection (entry 2 (test \"tests/b.py::*\"), entry 3 (test \"::set-output name=x::y\")); they apply to runs that collect their tests`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		assert.False(t, runnertest.LooksLikeCommand(line), line)
	}

	buf.Reset()
	require.NoError(t, checkQuarantine(l, append(bases, &base{found: discover.Collection{IDs: []string{"tests/b.py::test_1", "::set-output name=x::y"}}}), true, log))
	assert.Empty(t, buf.String(), "every entry matches: nothing to say")

	// Without a selection the whole project was collected: still an error.
	err = checkQuarantine(l, bases, false, log)
	require.Error(t, err)
	assert.True(t, isInputError(err))
}

// TestQuarantineFileIsFound: the project's default file is read when
// present; bad entries are bad input, each its own error.
func TestQuarantineFileIsFound(t *testing.T) {
	project := t.TempDir()
	cfg := func() config.Config {
		return config.Config{ProjectDir: project, BaseImages: []string{"python:3.12-slim"}, Platform: "linux/amd64", Parallelism: 1,
			PendingTimeout: 1, ResultLimit: 1 << 20, Sidecar: config.SidecarAuto, JUnitPath: "j.xml"}
	}
	c := cfg()
	require.NoError(t, c.LoadAndValidate())
	assert.Nil(t, c.QuarantineList, "no file, no quarantine")

	require.NoError(t, os.MkdirAll(filepath.Join(project, ".k8s-testrun"), 0o755))
	file := filepath.Join(project, quarantine.DefaultPath)
	require.NoError(t, os.WriteFile(file, []byte("quarantine:\n- {test: t.py::a, until: 2026-12-31, reason: r}\n"), 0o644))
	c = cfg()
	require.NoError(t, c.LoadAndValidate())
	require.NotNil(t, c.QuarantineList)
	assert.Len(t, c.QuarantineList.Entries, 1)

	require.NoError(t, os.WriteFile(file, []byte("quarantine:\n- {test: t.py::a, reason: r}\n- {test: t.py::b, until: 2026-13-01}\n"), 0o644))
	c = cfg()
	err := c.LoadAndValidate()
	require.Error(t, err)
	assert.True(t, isInputError(err))
	errs := config.Unjoin(err)
	require.Len(t, errs, 3, "one error per problem: %v", err)
	assert.Equal(t, `quarantine: `+file+`: entry 1 (test "t.py::a"): no until date; add until: YYYY-MM-DD, the last day the quarantine holds`, errs[0].Error())
	assert.Equal(t, `quarantine: `+file+`: entry 2 (test "t.py::b"): until "2026-13-01" is not a date; write it as YYYY-MM-DD`, errs[1].Error())
	assert.Equal(t, `quarantine: `+file+`: entry 2 (test "t.py::b"): no reason; add reason: why the test is quarantined`, errs[2].Error())

	// Operator mode reads it too: the TestRun's quarantine ConfigMap
	// carries it.
	require.NoError(t, os.WriteFile(file, []byte("quarantine:\n- {test: t.py::a, until: 2026-12-31, reason: r}\n"), 0o644))
	c = cfg()
	c.Mode = config.ModeOperator
	require.NoError(t, c.LoadAndValidate())
	require.NotNil(t, c.QuarantineList)
	assert.Len(t, c.QuarantineList.Entries, 1)

	// --quarantine names another file, which must exist.
	c = cfg()
	c.Quarantine = filepath.Join(project, "none.yaml")
	err = c.LoadAndValidate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `quarantine "`+c.Quarantine+`": cannot be read: no such file or directory`)
}

// TestExcusedCases: the cases whose failure the quarantine excuses at the
// run's start, by case ID, every base's case in a matrix; an expired entry
// excuses none.
func TestExcusedCases(t *testing.T) {
	l, err := quarantine.Parse([]byte("quarantine:\n"+
		"- {test: 'tests/a.py::*', until: 2026-12-31, reason: r}\n"+
		"- {test: 'tests/b.py::test_old', until: 2026-11-30, reason: r}\n"), "q.yaml")
	require.NoError(t, err)
	var cases []plan.Case
	for base := range 2 {
		for _, id := range []string{"tests/a.py::test_x", "tests/b.py::test_old", "tests/c.py::test_y"} {
			cases = append(cases, plan.Case{ID: testid.BaseCaseID(id, base), TestID: id, Base: base})
		}
	}
	dec1 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, map[string]bool{
		testid.BaseCaseID("tests/a.py::test_x", 0): true,
		testid.BaseCaseID("tests/a.py::test_x", 1): true,
	}, excusedCases(l, cases, dec1))
	nov1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	assert.Len(t, excusedCases(l, cases, nov1), 4, "before its date, the second entry excuses too")
	assert.Empty(t, excusedCases(l, cases, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)), "past every date")
	assert.Nil(t, excusedCases(nil, cases, dec1))
}
