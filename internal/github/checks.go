package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	gogithub "github.com/google/go-github/v60/github"
)

// Limits of the Checks API.
const (
	// MaxSummary is the longest output summary GitHub accepts, in
	// characters; Complete keeps within it in bytes, which is stricter.
	MaxSummary = 65535
	// MaxAnnotationsPerRequest is how many annotations one create or update
	// request may carry; more take more requests.
	MaxAnnotationsPerRequest = 50
	maxAnnotationText        = 65535
	maxAnnotationTitle       = 255
	maxTitle                 = 1024
)

// Check run conclusions.
const (
	ConclusionSuccess   = "success"
	ConclusionFailure   = "failure"
	ConclusionNeutral   = "neutral"
	ConclusionCancelled = "cancelled"
)

// Annotation levels.
const (
	LevelNotice  = "notice"
	LevelWarning = "warning"
	LevelFailure = "failure"
)

// Annotation marks a line of a file in the pull request's diff view.
type Annotation struct {
	// Path is relative to the repository root.
	Path string
	// StartLine and EndLine are 1-based; EndLine defaults to StartLine.
	StartLine, EndLine int
	// Level is LevelNotice, LevelWarning or LevelFailure (the default).
	Level   string
	Title   string
	Message string
	// Details is shown folded under the message, e.g. a traceback.
	Details string
}

// CheckRun is a check run that was created.
type CheckRun struct {
	ID   int64
	Name string
	// URL is the check run's page.
	URL string
}

// NewCheckRun describes a check run to create.
type NewCheckRun struct {
	// Name and HeadSHA are required. HeadSHA is the commit the check is
	// shown on: for a pull request, its head, not the merge commit.
	Name, HeadSHA string
	// DetailsURL links the check to, e.g., the workflow run.
	DetailsURL string
	// ExternalID identifies the run on this side.
	ExternalID string
	// Title and Summary are shown while the run is in progress.
	Title, Summary string
}

// CreateCheckRun creates a check run in progress. A token that may not
// write checks gives an error matching ErrNotPermitted.
func (c *Client) CreateCheckRun(ctx context.Context, n NewCheckRun) (*CheckRun, error) {
	if n.Name == "" || n.HeadSHA == "" {
		return nil, errors.New("github: a check run needs a name and a head SHA")
	}
	opts := gogithub.CreateCheckRunOptions{
		Name:      n.Name,
		HeadSHA:   n.HeadSHA,
		Status:    gogithub.String("in_progress"),
		StartedAt: &gogithub.Timestamp{Time: time.Now()},
	}
	if n.DetailsURL != "" {
		opts.DetailsURL = gogithub.String(n.DetailsURL)
	}
	if n.ExternalID != "" {
		opts.ExternalID = gogithub.String(n.ExternalID)
	}
	if n.Title != "" {
		opts.Output = &gogithub.CheckRunOutput{
			Title:   gogithub.String(clip(n.Title, maxTitle)),
			Summary: gogithub.String(TrimSummary(n.Summary, MaxSummary)),
		}
	}
	cr, _, err := c.gh.Checks.CreateCheckRun(ctx, c.owner, c.repo, opts)
	if err != nil {
		return nil, apiError("creating check run "+n.Name, err)
	}
	return &CheckRun{ID: cr.GetID(), Name: n.Name, URL: cr.GetHTMLURL()}, nil
}

// Result is how a check run ends.
type Result struct {
	// Conclusion is one of the Conclusion constants.
	Conclusion string
	Title      string
	// Summary is markdown; past MaxSummary it is trimmed with a note.
	Summary string
	// Annotations are all sent, MaxAnnotationsPerRequest per request.
	Annotations []Annotation
}

// Complete sends the annotations, in as many updates as they need, then
// completes the check run with its conclusion. The completion is sent even
// when an annotation batch was refused, so the check never stays in
// progress for want of a comment; the error then reports the batch.
func (c *Client) Complete(ctx context.Context, run *CheckRun, res Result) error {
	title := gogithub.String(clip(res.Title, maxTitle))
	summary := gogithub.String(TrimSummary(res.Summary, MaxSummary))
	var errs []error
	batches := batch(annotations(res.Annotations), MaxAnnotationsPerRequest)
	for i, b := range batches {
		_, _, err := c.gh.Checks.UpdateCheckRun(ctx, c.owner, c.repo, run.ID, gogithub.UpdateCheckRunOptions{
			Name:   run.Name,
			Output: &gogithub.CheckRunOutput{Title: title, Summary: summary, Annotations: b},
		})
		if err != nil {
			errs = append(errs, apiError(fmt.Sprintf("annotating check run %s (batch %d of %d)", run.Name, i+1, len(batches)), err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	_, _, err := c.gh.Checks.UpdateCheckRun(ctx, c.owner, c.repo, run.ID, gogithub.UpdateCheckRunOptions{
		Name:        run.Name,
		Status:      gogithub.String("completed"),
		Conclusion:  gogithub.String(res.Conclusion),
		CompletedAt: &gogithub.Timestamp{Time: time.Now()},
		Output:      &gogithub.CheckRunOutput{Title: title, Summary: summary},
	})
	if err != nil {
		errs = append(errs, apiError("completing check run "+run.Name, err))
	}
	return errors.Join(errs...)
}

// annotations converts and clips; an annotation without a path or line has
// no place in a diff and is left out (the summary still lists its test).
func annotations(in []Annotation) []*gogithub.CheckRunAnnotation {
	out := make([]*gogithub.CheckRunAnnotation, 0, len(in))
	for _, a := range in {
		if a.Path == "" || a.StartLine < 1 {
			continue
		}
		end := a.EndLine
		if end < a.StartLine {
			end = a.StartLine
		}
		level := a.Level
		if level == "" {
			level = LevelFailure
		}
		msg := a.Message
		if strings.TrimSpace(msg) == "" {
			msg = a.Title
		}
		ga := &gogithub.CheckRunAnnotation{
			Path:            gogithub.String(a.Path),
			StartLine:       gogithub.Int(a.StartLine),
			EndLine:         gogithub.Int(end),
			AnnotationLevel: gogithub.String(level),
			Message:         gogithub.String(clip(msg, maxAnnotationText)),
		}
		if a.Title != "" {
			ga.Title = gogithub.String(clip(a.Title, maxAnnotationTitle))
		}
		if a.Details != "" {
			ga.RawDetails = gogithub.String(clip(a.Details, maxAnnotationText))
		}
		out = append(out, ga)
	}
	return out
}

func batch[T any](items []T, n int) [][]T {
	var out [][]T
	for len(items) > 0 {
		k := min(n, len(items))
		out = append(out, items[:k])
		items = items[k:]
	}
	return out
}

// TrimSummary keeps markdown within limit bytes. Past it, the text is cut at
// a line end, an open code fence is closed, and a note says what happened.
func TrimSummary(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	note := fmt.Sprintf("\n\n> [!NOTE]\n> Trimmed to GitHub's limit of %d characters; the JUnit report has every test.\n", limit)
	keep := max(limit-len(note)-len("\n```"), 0)
	cut := clip(s, keep)
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i]
	}
	fences := 0
	for line := range strings.SplitSeq(cut, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fences++
		}
	}
	if fences%2 == 1 {
		cut += "\n```"
	}
	return cut + note
}

// clip cuts s to at most n bytes without splitting a character.
// clip cuts s to at most n bytes, at a character boundary, ending it with a
// note of how many bytes were cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	note := func(k int) string { return fmt.Sprintf(" [k8s-testrun cut %d bytes]", k) }
	keep := max(n-len(note(len(s))), 0)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	if out := s[:keep] + note(len(s)-keep); len(out) <= n {
		return out
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
