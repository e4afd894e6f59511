package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/attempt"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/ghaction"
	"github.com/k8s-testrun/k8s-testrun/internal/github"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

func reportWith(statuses ...plan.Status) *report.Report {
	var cases []report.CaseResult
	for i, st := range statuses {
		o := plan.Outcome{Status: st}
		if st == plan.Error {
			o.Reason = "OOMKilled"
		}
		cases = append(cases, report.CaseResult{
			Case: plan.Case{ID: string(rune('a' + i))}, Status: st, Final: true,
			Attempts: []attempt.Attempt{{Number: 1, Outcome: o}},
		})
	}
	return report.NewReport("r", "i", "", time.Now(), time.Second, cases)
}

func TestVerdict(t *testing.T) {
	passed, failed, infra := reportWith(plan.Passed), reportWith(plan.Passed, plan.Failed), reportWith(plan.Error)
	inputErr := errors.Join(&config.Error{Input: "parallelism", Fix: "x"})
	tests := []struct {
		name       string
		rep        *report.Report
		err        error
		cancelled  bool
		failOn     string
		conclusion string
		code       int
	}{
		{"all passed", passed, nil, false, ghaction.FailOnFailures, github.ConclusionSuccess, ExitOK},
		{"failures fail", failed, nil, false, ghaction.FailOnFailures, github.ConclusionFailure, ExitTestsFailed},
		{"failures tolerated by errors", failed, nil, false, ghaction.FailOnErrors, github.ConclusionNeutral, ExitOK},
		{"infra fails with errors", infra, nil, false, ghaction.FailOnErrors, github.ConclusionFailure, ExitInfra},
		{"never", infra, nil, false, ghaction.FailOnNever, github.ConclusionNeutral, ExitOK},
		{"could not run", nil, errors.New("registry unreachable"), false, ghaction.FailOnFailures, github.ConclusionFailure, ExitInfra},
		{"could not run, never", nil, errors.New("registry unreachable"), false, ghaction.FailOnNever, github.ConclusionNeutral, ExitOK},
		{"bad inputs fail whatever fail_on says", nil, inputErr, false, ghaction.FailOnNever, github.ConclusionFailure, ExitInfra},
		{"cancelled", failed, context.Canceled, true, ghaction.FailOnNever, github.ConclusionCancelled, ExitInfra},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conclusion, code := verdict(tt.rep, tt.err, tt.cancelled, tt.failOn)
			assert.Equal(t, tt.conclusion, conclusion)
			assert.Equal(t, tt.code, code)
		})
	}
}

func TestAttemptTitle(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := plan.Case{TestID: "tests/test_a.py::test_b"}
	tc := &junit.Testcase{Time: "0.123"}
	assert.Equal(t, "❌ FAILED tests/test_a.py::test_b (123ms, attempt 1 of 2)",
		attemptTitle(c, attempt.Attempt{Number: 1, Outcome: plan.Outcome{Status: plan.Failed}, Results: attempt.Results{Testcase: tc}}, 2))
	assert.Equal(t, "💥 ERROR tests/test_a.py::test_b (3s, OOMKilled)",
		attemptTitle(c, attempt.Attempt{Number: 1, Started: start, Finished: start.Add(3 * time.Second), Outcome: plan.Outcome{Status: plan.Error, Reason: "OOMKilled"}}, 1))
	assert.Equal(t, "💥 ERROR tests/test_a.py::test_b (3s, Evicted, pod taken away)",
		attemptTitle(c, attempt.Attempt{Number: 1, Started: start, Finished: start.Add(3 * time.Second), Outcome: plan.Outcome{Status: plan.Error, Reason: plan.ReasonEvicted}}, 1))
	assert.Equal(t, "✅ PASSED tests/test_a.py::test_b (attempt 2)",
		attemptTitle(c, attempt.Attempt{Number: 2, Outcome: plan.Outcome{Status: plan.Passed}}, 1))
}

// githubAPI records requests and answers create with status.
type githubAPI struct {
	mu     sync.Mutex
	status int
	reqs   []map[string]any
	paths  []string
}

func newGitHubAPI(t *testing.T, status int) (*githubAPI, *httptest.Server) {
	api := &githubAPI{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		api.mu.Lock()
		api.reqs = append(api.reqs, body)
		api.paths = append(api.paths, r.Method+" "+r.URL.Path)
		api.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if api.status != 0 {
			w.WriteHeader(api.status)
			_, _ = io.WriteString(w, `{"message":"Resource not accessible by integration"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id": 5, "html_url": "https://github.example/o/r/runs/5"}`)
	}))
	t.Cleanup(srv.Close)
	return api, srv
}

// actionVars are a runner's variables for a step whose cluster is
// unreachable: the run fails fast at its preflight, after the check run
// was created.
func actionVars(t *testing.T, apiURL string, inputs map[string]string) (map[string]string, string, string) {
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	require.NoError(t, os.MkdirAll(filepath.Join(ws, "proj"), 0o755))
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: "kube-token-123456"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	out, sum := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	vars := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws, "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "abc",
		"GITHUB_API_URL": apiURL, "GITHUB_OUTPUT": out, "GITHUB_STEP_SUMMARY": sum, "GITHUB_RUN_ID": "9",
	}
	for _, in := range ghaction.Inputs {
		vars["INPUT_"+strings.ToUpper(in.Name)] = in.Default
	}
	vars["INPUT_TOKEN"] = "ghs_secret_token"
	vars["INPUT_PROJECT_PATH"] = "proj"
	vars["INPUT_REPOSITORY"] = "localhost:5001/proj"
	vars["INPUT_KUBECONFIG"] = kubeconfig
	for k, v := range inputs {
		vars["INPUT_"+strings.ToUpper(k)] = v
	}
	return vars, out, sum
}

func TestActionWhenTheClusterIsUnreachable(t *testing.T) {
	tests := []struct {
		name       string
		failOn     string
		createCode int
		code       int
		conclusion string
	}{
		{"fails the step", "failures", 0, ExitInfra, "failure"},
		{"never", "never", 0, ExitOK, "neutral"},
		{"a fork's token", "failures", http.StatusForbidden, ExitInfra, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, srv := newGitHubAPI(t, tt.createCode)
			vars, out, sum := actionVars(t, srv.URL, map[string]string{"fail_on": tt.failOn})
			env, stdout, stderr := testEnv(vars)
			code := Run(context.Background(), nil, env)
			assert.Equal(t, tt.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

			log := stdout.String()
			assert.True(t, strings.HasPrefix(log, "::add-mask::ghs_secret_token\n::add-mask::kube-token-123456\n"), "secrets are masked first:\n%s", log)
			assert.Equal(t, 1, strings.Count(log, "kube-token-123456"))
			assert.Contains(t, log, "::error::k8s-testrun: ", "the problem is an annotation")
			assert.Contains(t, log, "127.0.0.1:1")

			summary, err := os.ReadFile(sum)
			require.NoError(t, err)
			assert.Contains(t, string(summary), "could not run the tests")
			outputs, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Contains(t, string(outputs), "total<<")
			assert.FileExists(t, filepath.Join(vars["GITHUB_WORKSPACE"], config.DefaultJUnitPath), "an empty report for the upload step")

			if tt.createCode != 0 {
				assert.Equal(t, []string{"POST /repos/o/r/check-runs"}, api.paths)
				assert.Equal(t, 1, strings.Count(log, "No check run"), "said once in the log")
				assert.Contains(t, string(summary), "No check run")
				return
			}
			require.Equal(t, []string{"POST /repos/o/r/check-runs", "PATCH /repos/o/r/check-runs/5"}, api.paths)
			assert.Equal(t, "abc", api.reqs[0]["head_sha"])
			assert.Equal(t, "https://github.com/o/r/actions/runs/9", api.reqs[0]["details_url"])
			assert.Equal(t, "completed", api.reqs[1]["status"])
			assert.Equal(t, tt.conclusion, api.reqs[1]["conclusion"])
			assert.Contains(t, string(summary), "https://github.example/o/r/runs/5")
		})
	}
}

func TestActionBadInputs(t *testing.T) {
	api, srv := newGitHubAPI(t, 0)
	vars, out, sum := actionVars(t, srv.URL, map[string]string{"parallelism": "many", "project_path": "missing", "fail_on": "never"})
	env, stdout, stderr := testEnv(vars)
	assert.Equal(t, ExitInfra, Run(context.Background(), []string{"action"}, env), "bad inputs fail the step whatever fail_on says")
	log := stdout.String()
	assert.Contains(t, log, "::error::k8s-testrun: input parallelism \"many\": not a whole number")
	assert.Contains(t, log, "::error::k8s-testrun: input project_path ")
	assert.Contains(t, stderr.String(), "invalid inputs")
	assert.Empty(t, api.paths, "nothing was tested, so no check run")
	summary, err := os.ReadFile(sum)
	require.NoError(t, err)
	assert.Contains(t, string(summary), "parallelism")
	assert.FileExists(t, out)
}

func TestActionTakesNoArguments(t *testing.T) {
	env, _, stderr := testEnv(map[string]string{})
	assert.Equal(t, ExitInfra, Run(context.Background(), []string{"action", "extra"}, env))
	assert.Contains(t, stderr.String(), "takes no arguments")
}

func TestReportContextAfterCancel(t *testing.T) {
	at := time.Now().Add(-3 * time.Second)
	ctx, cancel := reportContext(context.Background(), func() *time.Time { return &at })
	defer cancel()
	d, ok := ctx.Deadline()
	require.True(t, ok)
	assert.WithinDuration(t, at.Add(afterCancelReportUntil), d, time.Millisecond, "what is left of GitHub's grace period")

	ctx, cancel = reportContext(context.Background(), func() *time.Time { return nil })
	defer cancel()
	d, _ = ctx.Deadline()
	assert.WithinDuration(t, time.Now().Add(reportTimeout), d, time.Second)
}
