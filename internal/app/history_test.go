package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/ghaction"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/progress"
	"github.com/k8s-testrun/k8s-testrun/internal/quarantine"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// verdictReport is a finished run whose tests ended as verdicts says, by
// test id: passed, failed or error.
func verdictReport(started time.Time, verdicts map[string]plan.Status) *report.Report {
	var cases []report.CaseResult
	for id, st := range verdicts {
		tc := &junit.Testcase{Classname: "t", Name: id, Time: "0.500"}
		if st == plan.Failed {
			tc.Failure = &junit.Result{Message: "assert 0"}
		}
		cases = append(cases, report.CaseResult{Case: plan.Case{ID: id, TestID: id}, Status: st, Final: true,
			Attempts: []attempt.Attempt{{Number: 1, Pod: "pod-" + id, Outcome: plan.Outcome{Status: st}, Results: attempt.Results{Testcase: tc}}}})
	}
	return report.NewReport("r", "img", "", started, time.Second, cases)
}

const (
	commitA = "1111111111111111111111111111111111111111"
	commitB = "2222222222222222222222222222222222222222"
)

// TestRememberComparesWithTheBase: the second commit's run, compared with
// the first's, has one new failure and one fixed test, in the terminal
// summary and in --output json's run_finished.
func TestRememberComparesWithTheBase(t *testing.T) {
	cfg := config.Config{History: t.TempDir(), HistoryCommit: commitA, HistoryBranch: "main"}
	first := verdictReport(t0, map[string]plan.Status{"t.py::test_a": plan.Passed, "t.py::test_b": plan.Failed, "t.py::test_c": plan.Passed})
	m, err := remember(context.Background(), cfg, first, nil, runFacts{})
	require.NoError(t, err)
	assert.Nil(t, m.Comparison)
	assert.Contains(t, m.NoBase, "no")
	var text bytes.Buffer
	m.print(&text)
	assert.Contains(t, text.String(), "nothing to compare with", "one line says there is no base")

	cfg.HistoryCommit, cfg.CompareTo = commitB, commitA
	second := verdictReport(t0.Add(time.Hour), map[string]plan.Status{"t.py::test_a": plan.Failed, "t.py::test_b": plan.Passed, "t.py::test_c": plan.Passed, "t.py::test_<b>::error::x": plan.Passed})
	m, err = remember(context.Background(), cfg, second, nil, runFacts{})
	require.NoError(t, err)
	require.NotNil(t, m.Comparison)
	assert.Equal(t, []string{"t.py::test_a"}, m.Comparison.NewFailures)
	assert.Equal(t, []string{"t.py::test_b"}, m.Comparison.Fixed)

	text.Reset()
	m.print(&text)
	assert.Contains(t, text.String(), "Compared with 111111111111 (main): 1 new failures, 1 fixed, 0 still failing, 0 new flaky, 1 new tests, 0 removed, 0 slower")
	assert.Contains(t, text.String(), "NEW FAILURE t.py::test_a\n")
	assert.Contains(t, text.String(), "FIXED t.py::test_b\n")

	var out bytes.Buffer
	p := progress.New(&out, progress.Options{Format: progress.FormatJSON})
	s := summaryOf(second, ExitTestsFailed)
	s.Comparison = m.comparison()
	p.Finish(s)
	var ev struct {
		Event      string
		Comparison struct {
			NewFailures []string `json:"new_failures"`
			Fixed       []string `json:"fixed"`
		}
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &ev), out.String())
	assert.Equal(t, "run_finished", ev.Event)
	assert.Equal(t, []string{"t.py::test_a"}, ev.Comparison.NewFailures)
	assert.Equal(t, []string{"t.py::test_b"}, ev.Comparison.Fixed)

	// Without --compare-to, the newest earlier run of the branch.
	cfg.HistoryCommit, cfg.CompareTo = "3333333333333333333333333333333333333333", ""
	m, err = remember(context.Background(), cfg, second, nil, runFacts{})
	require.NoError(t, err)
	require.NotNil(t, m.Comparison)
	assert.Equal(t, commitB, m.Comparison.Base)
}

func TestRememberKeepsNoPartialRun(t *testing.T) {
	cfg := config.Config{History: t.TempDir(), HistoryCommit: commitA}
	_, err := remember(context.Background(), cfg, verdictReport(t0, map[string]plan.Status{"a": plan.Passed}), context.Canceled, runFacts{})
	require.NoError(t, err)
	idx, err := history.Store{Dir: cfg.History}.Index()
	require.NoError(t, err)
	assert.Empty(t, idx)
}

func TestRememberRefusesAFutureFormat(t *testing.T) {
	cfg := config.Config{History: t.TempDir(), HistoryCommit: commitB}
	require.NoError(t, os.WriteFile(filepath.Join(cfg.History, commitA+".json"), []byte(`{"format": 9, "commit": "`+commitA+`", "tests": {}}`), 0o644))
	_, err := remember(context.Background(), cfg, verdictReport(t0, map[string]plan.Status{"a": plan.Passed}), nil, runFacts{})
	var ce *config.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "history", ce.Input)
	assert.Contains(t, err.Error(), "history format 9")
	_, err = storeDurations(cfg, map[string]time.Duration{})
	require.ErrorAs(t, err, &ce)
}

func TestFailOnNewFailures(t *testing.T) {
	cfg := config.Config{History: t.TempDir(), HistoryCommit: commitA, FailOn: config.FailOnNewFailures}
	_, err := remember(context.Background(), cfg, verdictReport(t0, map[string]plan.Status{"a": plan.Failed, "b": plan.Passed}), nil, runFacts{})
	require.NoError(t, err)

	cfg.HistoryCommit, cfg.CompareTo = commitB, commitA
	still := verdictReport(t0.Add(time.Hour), map[string]plan.Status{"a": plan.Failed, "b": plan.Passed})
	m, err := remember(context.Background(), cfg, still, nil, runFacts{})
	require.NoError(t, err)
	code := still.ExitCode(ExitOK, ExitTestsFailed, ExitInfra)
	assert.Equal(t, ExitTestsFailed, code)
	assert.Equal(t, ExitOK, m.exitCode(config.FailOnNewFailures, code), "only an old failure")
	assert.Equal(t, ExitTestsFailed, m.exitCode(config.FailOnFailures, code), "the default is unchanged")

	for name, verdicts := range map[string]map[string]plan.Status{
		"new failure":      {"a": plan.Failed, "b": plan.Failed},
		"failing new test": {"a": plan.Failed, "b": plan.Passed, "c": plan.Failed},
	} {
		rep := verdictReport(t0.Add(2*time.Hour), verdicts)
		m, err := remember(context.Background(), cfg, rep, nil, runFacts{})
		require.NoError(t, err)
		assert.Equal(t, ExitTestsFailed, m.exitCode(config.FailOnNewFailures, rep.ExitCode(ExitOK, ExitTestsFailed, ExitInfra)), name)
	}
	assert.Equal(t, ExitTestsFailed, (*recall)(nil).exitCode(config.FailOnNewFailures, ExitTestsFailed), "no history: every failure counts")
}

// TestActionReportsTheComparison: the job summary has the comparison, with
// test ids as code, and a new failure's annotation says it is new; with
// fail_on new-failures an old failure lets the step pass.
func TestActionReportsTheComparison(t *testing.T) {
	hist := t.TempDir()
	cfg := config.Config{History: hist, HistoryCommit: commitA}
	_, err := remember(context.Background(), cfg, verdictReport(t0, map[string]plan.Status{"t.py::test_a": plan.Passed, "t.py::test_b": plan.Failed, "t.py::old": plan.Failed}), nil, runFacts{})
	require.NoError(t, err)
	cfg.HistoryCommit, cfg.CompareTo = commitB, commitA
	rep := verdictReport(t0.Add(time.Hour), map[string]plan.Status{"t.py::test_a": plan.Failed, "t.py::test_b": plan.Passed, "t.py::old": plan.Failed, "t.py::new": plan.Passed})
	m, err := remember(context.Background(), cfg, rep, nil, runFacts{})
	require.NoError(t, err)

	for _, failOn := range []string{ghaction.FailOnFailures, ghaction.FailOnNewFailures} {
		dir := t.TempDir()
		sum := filepath.Join(dir, "summary")
		env, stdout, _ := testEnv(map[string]string{"GITHUB_STEP_SUMMARY": sum, "GITHUB_OUTPUT": filepath.Join(dir, "output")})
		a := &action{
			env: env, wf: ghaction.NewWorkflow(env.Stdout, env.Getenv), log: slog.New(slog.DiscardHandler),
			cfg: config.Config{JUnitPath: filepath.Join(dir, "junit.xml")}, set: ghaction.Settings{FailOn: failOn, JUnitPath: "junit.xml"},
			start: t0, noCheck: "No check run: test", mem: m,
		}
		code := a.finish(context.Background(), rep, nil, false)
		assert.Equal(t, ExitTestsFailed, code, "a new failure fails the step (%s)", failOn)
		b, err := os.ReadFile(sum)
		require.NoError(t, err)
		md := string(b)
		assert.Contains(t, md, "#### Compared with `111111111111`")
		assert.Contains(t, md, "| 🆕❌ New failures | 1 |")
		assert.Contains(t, md, "| ✅ Fixed | 1 |")
		assert.Contains(t, md, "**New failures:** `t.py::test_a`")
		log := stdout.String()
		assert.Contains(t, log, "title=NEW FAILED t.py%3A%3Atest_a::")
		assert.NotContains(t, log, "title=NEW FAILED t.py%3A%3Aold", "an old failure is not new")
		assert.Contains(t, log, "title=FAILED t.py%3A%3Aold::")
	}

	// Only the old failure left: fail_on new-failures passes, neutral.
	old := verdictReport(t0.Add(2*time.Hour), map[string]plan.Status{"t.py::test_a": plan.Passed, "t.py::test_b": plan.Passed, "t.py::old": plan.Failed})
	m, err = remember(context.Background(), cfg, old, nil, runFacts{})
	require.NoError(t, err)
	dir := t.TempDir()
	env, _, _ := testEnv(map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"), "GITHUB_OUTPUT": filepath.Join(dir, "output")})
	a := &action{env: env, wf: ghaction.NewWorkflow(env.Stdout, env.Getenv), log: slog.New(slog.DiscardHandler),
		cfg: config.Config{JUnitPath: filepath.Join(dir, "junit.xml")}, set: ghaction.Settings{FailOn: ghaction.FailOnNewFailures},
		start: t0, noCheck: "x", mem: m}
	assert.Equal(t, ExitOK, a.finish(context.Background(), old, nil, false))
}

func TestRememberListsReadyToRelease(t *testing.T) {
	l, err := quarantine.Parse([]byte("quarantine:\n  - {test: \"t.py::q*\", until: 2099-01-01, reason: flaky dns}\n"), "q.yaml")
	require.NoError(t, err)
	cfg := config.Config{History: t.TempDir()}
	var m *recall
	for i := range history.ReadyRuns {
		cfg.HistoryCommit = strings.Repeat(string(rune('a'+i)), 40)
		rep := verdictReport(t0.Add(time.Duration(i)*time.Hour), map[string]plan.Status{"t.py::q_steady": plan.Passed, "t.py::q_broke": plan.Passed, "t.py::plain": plan.Passed})
		if i == 2 {
			rep = verdictReport(t0.Add(time.Duration(i)*time.Hour), map[string]plan.Status{"t.py::q_steady": plan.Passed, "t.py::q_broke": plan.Failed, "t.py::plain": plan.Passed})
		}
		rep.Quarantine = l
		m, err = remember(context.Background(), cfg, rep, nil, runFacts{})
		require.NoError(t, err)
		if i < history.ReadyRuns-1 {
			assert.Empty(t, m.Ready, "run %d: fewer than %d runs recorded", i, history.ReadyRuns)
		}
	}
	assert.Equal(t, []string{"t.py::q_steady"}, m.Ready)
	var text bytes.Buffer
	m.print(&text)
	assert.Contains(t, text.String(), "Ready to release from quarantine (passed in its last 5 runs): t.py::q_steady")
}
