package ghaction

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// Context is what the runner says about the workflow run.
type Context struct {
	// Repository is "owner/name".
	Repository string
	// HeadSHA is the commit a check run belongs on: for a pull request
	// event, the head of the pull request, not the merge commit GITHUB_SHA
	// names; otherwise GITHUB_SHA.
	HeadSHA string
	// Fork is set for a pull request from another repository, whose token
	// GitHub makes read-only.
	Fork      bool
	APIURL    string
	ServerURL string
	// RunURL is the workflow run's page.
	RunURL string
	RunID  int64
	// BaseSHA is a pull request's base commit, from the event; "" for
	// other events.
	BaseSHA string
}

// ReadContext reads the GITHUB_* variables and the event file.
func ReadContext(getenv func(string) string) (Context, error) {
	gc, err := githubactions.New(githubactions.WithGetenv(getenv)).Context()
	if err != nil {
		return Context{}, fmt.Errorf("reading the workflow context: %w", err)
	}
	c := Context{
		Repository: gc.Repository,
		HeadSHA:    gc.SHA,
		APIURL:     gc.APIURL,
		ServerURL:  strings.TrimSuffix(gc.ServerURL, "/"),
		RunID:      gc.RunID,
	}
	if pr, ok := gc.Event["pull_request"].(map[string]any); ok {
		head, _ := pr["head"].(map[string]any)
		if sha, _ := head["sha"].(string); sha != "" {
			c.HeadSHA = sha
		}
		headRepo := fullName(head)
		base, _ := pr["base"].(map[string]any)
		c.Fork = headRepo != "" && headRepo != fullName(base)
		c.BaseSHA, _ = base["sha"].(string)
	}
	if c.Repository != "" && c.RunID != 0 {
		c.RunURL = fmt.Sprintf("%s/%s/actions/runs/%d", c.ServerURL, c.Repository, c.RunID)
	}
	return c, nil
}

func fullName(ref map[string]any) string {
	repo, _ := ref["repo"].(map[string]any)
	name, _ := repo["full_name"].(string)
	return name
}

// BlobURL links to a line of a file at the commit under test, or "". The
// file's name comes from a test ID, so each of its path segments is
// percent-encoded: no character of it ends the URL or a markdown link.
func (c Context) BlobURL(file string, line int) string {
	if c.Repository == "" || c.HeadSHA == "" || file == "" {
		return ""
	}
	segs := strings.Split(file, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	u := fmt.Sprintf("%s/%s/blob/%s/%s", c.ServerURL, c.Repository, url.PathEscape(c.HeadSHA), strings.Join(segs, "/"))
	if line > 0 {
		u += fmt.Sprintf("#L%d", line)
	}
	return u
}
