package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func failures(n int) []Annotation {
	out := make([]Annotation, n)
	for i := range out {
		out[i] = Annotation{
			Path: "tests/test_many.py", StartLine: i + 1, Level: LevelFailure,
			Title: fmt.Sprintf("tests/test_many.py::test_%d failed", i), Message: "assert 1 == 2",
		}
	}
	return out
}

// TestCompleteSendsEveryAnnotationInBatches checks the exact requests of a
// run with 120 failures: one create, three updates carrying 50, 50 and 20
// annotations, and the completion.
func TestCompleteSendsEveryAnnotationInBatches(t *testing.T) {
	api, srv := newFakeAPI(t)
	c := newTestClient(t, srv, &sleeps{})
	ctx := context.Background()

	run, err := c.CreateCheckRun(ctx, NewCheckRun{Name: "k8s-testrun", HeadSHA: "abc123", DetailsURL: "https://github.example/o/r/actions/runs/7", ExternalID: "run1", Title: "Running", Summary: "Running 120 tests"})
	require.NoError(t, err)
	assert.Equal(t, int64(42), run.ID)
	assert.Equal(t, "https://github.example/o/r/runs/42", run.URL)

	err = c.Complete(ctx, run, Result{Conclusion: ConclusionFailure, Title: "120 failed", Summary: "## 120 failed", Annotations: failures(120)})
	require.NoError(t, err)

	reqs := api.got()
	require.Len(t, reqs, 5)
	for _, r := range reqs {
		assert.Equal(t, "Bearer t0ken", r.Auth)
	}
	create := reqs[0]
	assert.Equal(t, "POST", create.Method)
	assert.Equal(t, "/repos/o/r/check-runs", create.Path)
	assert.Equal(t, "k8s-testrun", create.Body["name"])
	assert.Equal(t, "abc123", create.Body["head_sha"])
	assert.Equal(t, "in_progress", create.Body["status"])
	assert.Equal(t, "https://github.example/o/r/actions/runs/7", create.Body["details_url"])
	assert.Equal(t, "run1", create.Body["external_id"])
	assert.NotContains(t, create.Body, "conclusion")

	line := 1
	for i, want := range []int{50, 50, 20} {
		r := reqs[1+i]
		assert.Equal(t, "PATCH", r.Method)
		assert.Equal(t, "/repos/o/r/check-runs/42", r.Path)
		assert.NotContains(t, r.Body, "status", "an annotation batch leaves the run in progress")
		out := r.Body["output"].(map[string]any)
		assert.Equal(t, "120 failed", out["title"])
		assert.Equal(t, "## 120 failed", out["summary"])
		anns := out["annotations"].([]any)
		require.Len(t, anns, want, "batch %d", i+1)
		for _, a := range anns {
			a := a.(map[string]any)
			assert.Equal(t, "tests/test_many.py", a["path"])
			assert.Equal(t, float64(line), a["start_line"])
			assert.Equal(t, float64(line), a["end_line"])
			assert.Equal(t, "failure", a["annotation_level"])
			line++
		}
	}
	done := reqs[4]
	assert.Equal(t, "PATCH", done.Method)
	assert.Equal(t, "completed", done.Body["status"])
	assert.Equal(t, "failure", done.Body["conclusion"])
	assert.Contains(t, done.Body, "completed_at")
	out := done.Body["output"].(map[string]any)
	assert.Equal(t, "120 failed", out["title"])
	assert.NotContains(t, out, "annotations")
}

func TestCompleteWithoutAnnotationsIsOneRequest(t *testing.T) {
	api, srv := newFakeAPI(t)
	c := newTestClient(t, srv, &sleeps{})
	err := c.Complete(context.Background(), &CheckRun{ID: 42, Name: "k8s-testrun"}, Result{
		Conclusion: ConclusionSuccess, Title: "12 passed", Summary: "ok",
		// No place in a diff: skipped, not sent.
		Annotations: []Annotation{{Path: "", StartLine: 3}, {Path: "a.py", StartLine: 0}},
	})
	require.NoError(t, err)
	reqs := api.got()
	require.Len(t, reqs, 1)
	assert.Equal(t, "success", reqs[0].Body["conclusion"])
}

// TestCompleteStillCompletesWhenABatchIsRefused: a refused batch must not
// leave the check run in progress forever.
func TestCompleteStillCompletesWhenABatchIsRefused(t *testing.T) {
	api, srv := newFakeAPI(t, reply{status: 422, body: `{"message":"Validation Failed"}`})
	c := newTestClient(t, srv, &sleeps{})
	err := c.Complete(context.Background(), &CheckRun{ID: 42, Name: "k8s-testrun"}, Result{Conclusion: ConclusionFailure, Title: "t", Summary: "s", Annotations: failures(3)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "batch 1 of 1")
	assert.Contains(t, err.Error(), "Validation Failed")
	reqs := api.got()
	require.Len(t, reqs, 2)
	assert.Equal(t, "completed", reqs[1].Body["status"])
}

// TestCreateCheckRunFromAFork: GitHub gives a fork's pull request a
// read-only token; the error must say so, and the request is not retried.
func TestCreateCheckRunFromAFork(t *testing.T) {
	api, srv := newFakeAPI(t, reply{status: http.StatusForbidden, header: map[string]string{"X-Ratelimit-Remaining": "4999"},
		body: `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/checks/runs#create-a-check-run"}`})
	s := &sleeps{}
	c := newTestClient(t, srv, s)
	run, err := c.CreateCheckRun(context.Background(), NewCheckRun{Name: "k8s-testrun", HeadSHA: "abc"})
	require.Error(t, err)
	assert.Nil(t, run)
	assert.ErrorIs(t, err, ErrNotPermitted)
	assert.NotErrorIs(t, err, ErrRateLimited)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusForbidden, e.StatusCode)
	assert.Equal(t, "Resource not accessible by integration", e.Message)
	assert.Len(t, api.got(), 1)
	assert.Empty(t, s.d)
}

func TestRetries(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).Unix()
	ok := reply{}
	tests := []struct {
		name      string
		replies   []reply
		wantReqs  int
		wantSleep []time.Duration
		wantErr   error
	}{
		{
			name: "primary rate limit waits for x-ratelimit-reset",
			replies: []reply{{status: 403, header: map[string]string{
				"X-Ratelimit-Remaining": "0", "X-Ratelimit-Limit": "5000", "X-Ratelimit-Reset": fmt.Sprint(reset),
			}, body: `{"message":"API rate limit exceeded"}`}, ok},
			wantReqs: 2,
		},
		{
			name: "secondary rate limit honours Retry-After",
			replies: []reply{{status: 403, header: map[string]string{"Retry-After": "7"},
				body: `{"message":"You have exceeded a secondary rate limit","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`}, ok},
			wantReqs: 2, wantSleep: []time.Duration{7 * time.Second},
		},
		{
			name: "secondary rate limit without a time waits a minute",
			replies: []reply{{status: 403,
				body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`}, ok},
			wantReqs: 2, wantSleep: []time.Duration{time.Minute},
		},
		{
			name:     "429 then 502 back off",
			replies:  []reply{{status: 429}, {status: 502}, ok},
			wantReqs: 3, wantSleep: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:      "a wait past the budget is not started",
			replies:   []reply{{status: 403, header: map[string]string{"Retry-After": "3600"}, body: `{"message":"You have exceeded a secondary rate limit"}`}},
			wantReqs:  1,
			wantSleep: nil,
			wantErr:   ErrRateLimited,
		},
		{
			name:     "retries are bounded",
			replies:  []reply{{status: 503}, {status: 503}, {status: 503}, {status: 503}, {status: 503}, {status: 503}, {status: 503}},
			wantReqs: 6, wantSleep: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second},
			wantErr: errors.New("GitHub answered 503"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, srv := newFakeAPI(t, tt.replies...)
			s := &sleeps{}
			c := newTestClient(t, srv, s)
			run, err := c.CreateCheckRun(context.Background(), NewCheckRun{Name: "k8s-testrun", HeadSHA: "abc"})
			reqs := api.got()
			require.Len(t, reqs, tt.wantReqs)
			for _, r := range reqs {
				assert.Equal(t, "abc", r.Body["head_sha"], "a retry resends the whole body")
			}
			switch {
			case tt.wantErr == nil:
				require.NoError(t, err)
				assert.Equal(t, int64(42), run.ID)
			case errors.Is(tt.wantErr, ErrRateLimited):
				assert.ErrorIs(t, err, ErrRateLimited)
				assert.NotErrorIs(t, err, ErrNotPermitted)
			default:
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr.Error())
			}
			if tt.name == "primary rate limit waits for x-ratelimit-reset" {
				require.Len(t, s.d, 1)
				assert.InDelta(t, 31*time.Second, s.d[0], float64(2*time.Second))
				return
			}
			assert.Equal(t, tt.wantSleep, s.d)
		})
	}
}

func TestRetryStopsWithTheContext(t *testing.T) {
	api, srv := newFakeAPI(t, reply{status: 503}, reply{status: 503})
	c, err := New(Options{Token: "t", Repository: "o/r", APIURL: srv.URL})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.CreateCheckRun(ctx, NewCheckRun{Name: "n", HeadSHA: "s"})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
	assert.Len(t, api.got(), 1)
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no token", Options{Repository: "o/r"}, "token is required"},
		{"bad repository", Options{Token: "t", Repository: "o"}, "want owner/name"},
		{"nested repository", Options{Token: "t", Repository: "o/r/x"}, "want owner/name"},
		{"relative API URL", Options{Token: "t", Repository: "o/r", APIURL: "api.github.com"}, "absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestTrimSummary(t *testing.T) {
	long := strings.Repeat("line of text\n", 10000)
	fenced := "## head\n```text\n" + strings.Repeat("traceback line\n", 10000) + "```\n"
	tests := []struct {
		name, in string
		trimmed  bool
	}{
		{"short", "## 3 passed\n", false},
		{"exactly the limit", strings.Repeat("x", MaxSummary), false},
		{"long", long, true},
		{"cut inside a code fence", fenced, true},
		{"multibyte", strings.Repeat("✅ passed\n", 10000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TrimSummary(tt.in, MaxSummary)
			assert.LessOrEqual(t, len(got), MaxSummary)
			if !tt.trimmed {
				assert.Equal(t, tt.in, got)
				return
			}
			assert.Contains(t, got, "Trimmed to GitHub's limit of 65535 characters")
			assert.True(t, strings.Count(got, "```")%2 == 0, "code fences are balanced")
			assert.True(t, utf8Valid(got))
		})
	}
}

func TestCompleteTrimsTheSummary(t *testing.T) {
	api, srv := newFakeAPI(t)
	c := newTestClient(t, srv, &sleeps{})
	err := c.Complete(context.Background(), &CheckRun{ID: 42, Name: "n"}, Result{Conclusion: ConclusionFailure, Title: "t", Summary: strings.Repeat("a\n", MaxSummary)})
	require.NoError(t, err)
	summary := api.got()[0].Body["output"].(map[string]any)["summary"].(string)
	assert.LessOrEqual(t, len(summary), MaxSummary)
	assert.Contains(t, summary, "Trimmed")
}

func TestCompleteCapsAnnotationMessages(t *testing.T) {
	api, srv := newFakeAPI(t)
	c := newTestClient(t, srv, &sleeps{})
	huge := strings.Repeat("é", 1<<20)
	err := c.Complete(context.Background(), &CheckRun{ID: 42, Name: "n"}, Result{Conclusion: ConclusionFailure, Title: "t", Summary: "s",
		Annotations: []Annotation{{Path: "a.py", StartLine: 3, Message: "AssertionError: " + huge, Title: huge, Details: huge}}})
	require.NoError(t, err)
	an := api.got()[0].Body["output"].(map[string]any)["annotations"].([]any)[0].(map[string]any)
	msg := an["message"].(string)
	assert.LessOrEqual(t, len(msg), 64<<10, "GitHub's annotation limit")
	assert.True(t, strings.HasPrefix(msg, "AssertionError: é"))
	assert.Regexp(t, `é \[k8s-testrun cut \d+ bytes\]$`, msg)
	assert.LessOrEqual(t, len(an["raw_details"].(string)), 64<<10)
	assert.LessOrEqual(t, len(an["title"].(string)), 255)
}
