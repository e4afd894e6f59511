package ghaction

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"

	"github.com/k8s-testrun/k8s-testrun/internal/github"
	"github.com/k8s-testrun/k8s-testrun/internal/logtext"
)

// Workflow writes one step's workflow commands to the runner: groups,
// masks, annotations, fenced test output, outputs and the job summary.
//
// Every write to the step's output stream goes through one lock, and test
// output only inside a stop-commands fence written whole under it, so none
// of the action's own commands can land inside a fence (where the runner
// would ignore it) and no test output can land outside one. Everything but
// the action's own commands, fenced or not, goes through a logtext.Writer,
// so no line of it is a command even outside a fence; the commands take
// that writer's Commands path.
type Workflow struct {
	mu     sync.Mutex
	w      *logtext.Writer
	a      *githubactions.Action
	getenv func(string) string
	// token makes the fence tokens; default crypto/rand.
	token func() string
	group bool
}

// NewWorkflow writes commands to w and finds the runner's files
// (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) through getenv. When w is a
// *logtext.Writer, the commands take its Commands path; else w is wrapped
// in one.
func NewWorkflow(w io.Writer, getenv func(string) string) *Workflow {
	lw, ok := w.(*logtext.Writer)
	if !ok {
		lw = logtext.NewWriter(w)
	}
	wf := &Workflow{w: lw, getenv: getenv, token: randomToken}
	wf.a = githubactions.New(githubactions.WithWriter(lockedWriter{lw.Commands()}), githubactions.WithGetenv(getenv))
	return wf
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedWriter is how go-githubactions writes its commands: the caller
// holds mu.
type lockedWriter struct{ w io.Writer }

func (l lockedWriter) Write(p []byte) (int, error) { return l.w.Write(p) }

// Log is a writer for log lines, defused like all but the action's own
// commands, and kept apart from the commands and fences.
func (wf *Workflow) Log() io.Writer { return logWriter{wf} }

type logWriter struct{ wf *Workflow }

func (l logWriter) Write(p []byte) (int, error) {
	l.wf.mu.Lock()
	defer l.wf.mu.Unlock()
	return l.wf.w.Write(p)
}

// do runs f under the lock. go-githubactions panics when it cannot write;
// a step that cannot write its log has nowhere to report that, so the
// panic becomes an error for the callers that can use one.
func (wf *Workflow) do(f func()) (err error) {
	wf.mu.Lock()
	defer wf.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// Mask asks the runner to hide secret in all later output. A multi-line
// secret is masked line by line as well, because the runner matches masks
// within lines.
func (wf *Workflow) Mask(secret string) {
	_ = wf.do(func() {
		for _, s := range maskValues(secret) {
			wf.a.AddMask(s)
		}
	})
}

func maskValues(secret string) []string {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return nil
	}
	out := []string{secret}
	if strings.ContainsAny(secret, "\r\n") {
		for line := range strings.SplitSeq(secret, "\n") {
			line = strings.TrimSpace(line)
			// PEM armour lines are the same in every key; masking them
			// would hide nothing and blot out unrelated output.
			if len(line) >= 4 && !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
	}
	return out
}

// Group starts a collapsed group, ending the open one: the runner does not
// nest groups.
func (wf *Workflow) Group(title string) {
	_ = wf.do(func() {
		if wf.group {
			wf.a.EndGroup()
		}
		wf.a.Group(commandText(title))
		wf.group = true
	})
}

// EndGroup ends the open group, if any.
func (wf *Workflow) EndGroup() {
	_ = wf.do(func() {
		if wf.group {
			wf.a.EndGroup()
			wf.group = false
		}
	})
}

// Fenced prints output in a group of its own, between
// "::stop-commands::TOKEN" and "::TOKEN::" with a fresh random token, so
// the runner reads none of its lines as a command.
func (wf *Workflow) Fenced(title, output string) {
	token := wf.token()
	_ = wf.do(func() {
		if wf.group {
			wf.a.EndGroup()
			wf.group = false
		}
		wf.a.Group(commandText(title))
		wf.a.IssueCommand(&githubactions.Command{Name: "stop-commands", Message: token})
		if output != "" {
			_, _ = io.WriteString(wf.w, output)
			if !strings.HasSuffix(output, "\n") {
				_, _ = io.WriteString(wf.w, "\n")
			}
		}
		wf.a.IssueCommand(&githubactions.Command{Name: token})
		wf.a.EndGroup()
	})
}

// commandText is text from a test (a test ID in a group's title, a failure
// in an annotation) made fit for one of the action's own commands. The
// runner reads such a line as the command it starts with, but the legacy
// "##[" prefix is broken all the same, so that no line of the log holds
// one that k8s-testrun did not write.
func commandText(s string) string { return strings.ReplaceAll(s, "##[", `##\[`) }

// Annotate writes an annotation as a workflow command (::error file=...),
// for when the Checks API cannot be used. go-githubactions escapes the
// message and the properties.
func (wf *Workflow) Annotate(an github.Annotation) {
	fields := map[string]string{}
	if an.Path != "" {
		fields["file"] = an.Path
		if an.StartLine > 0 {
			fields["line"] = strconv.Itoa(an.StartLine)
			if an.EndLine > an.StartLine {
				fields["endLine"] = strconv.Itoa(an.EndLine)
			}
		}
	}
	if an.Title != "" {
		fields["title"] = commandText(an.Title)
	}
	msg := an.Message
	if strings.TrimSpace(msg) == "" {
		msg = an.Title
	}
	msg = commandText(msg)
	_ = wf.do(func() {
		a := wf.a.WithFieldsMap(fields)
		switch an.Level {
		case github.LevelNotice:
			a.Noticef("%s", msg)
		case github.LevelWarning:
			a.Warningf("%s", msg)
		default:
			a.Errorf("%s", msg)
		}
	})
}

// Warning writes a warning annotation with no location.
func (wf *Workflow) Warning(msg string) {
	wf.Annotate(github.Annotation{Level: github.LevelWarning, Message: msg})
}

// Error writes an error annotation with no location.
func (wf *Workflow) Error(msg string) {
	wf.Annotate(github.Annotation{Level: github.LevelFailure, Message: msg})
}

// Output is one step output.
type Output struct {
	Name, Value string
}

// SetOutputs writes the step's outputs to GITHUB_OUTPUT.
//
// go-githubactions (v1.3.0, and its latest release v1.4.0 alike) ends
// every value with the same fixed delimiter, which a value could carry to
// end its entry early and add outputs of its own; so each entry here has a
// fresh random delimiter, as @actions/core writes them, and a name or
// value that holds it is refused.
func (wf *Workflow) SetOutputs(outs []Output) error {
	file := wf.getenv("GITHUB_OUTPUT")
	if file == "" {
		return fmt.Errorf("GITHUB_OUTPUT is not set: the step's outputs cannot be written")
	}
	var b strings.Builder
	for _, o := range outs {
		e, err := outputEntry(o, "ghadelimiter_"+wf.token())
		if err != nil {
			return err
		}
		b.WriteString(e)
	}
	wf.mu.Lock()
	defer wf.mu.Unlock()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing the step's outputs: %w", err)
	}
	if _, err := io.WriteString(f, b.String()); err != nil {
		f.Close()
		return fmt.Errorf("writing the step's outputs: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the step's outputs: %w", err)
	}
	return nil
}

// outputEntry is o in the runner's multi-line form:
// "name<<DELIMITER\nvalue\nDELIMITER\n".
func outputEntry(o Output, delimiter string) (string, error) {
	switch {
	case o.Name == "" || strings.ContainsAny(o.Name, "\r\n=<"):
		return "", fmt.Errorf("step output name %q cannot be written", o.Name)
	case strings.Contains(o.Value, delimiter):
		return "", fmt.Errorf("step output %s holds its delimiter", o.Name)
	}
	return o.Name + "<<" + delimiter + "\n" + o.Value + "\n" + delimiter + "\n", nil
}

// AddSummary appends markdown to the job summary (GITHUB_STEP_SUMMARY).
func (wf *Workflow) AddSummary(markdown string) error {
	if wf.getenv("GITHUB_STEP_SUMMARY") == "" {
		return fmt.Errorf("GITHUB_STEP_SUMMARY is not set: the job summary cannot be written")
	}
	return wf.do(func() { wf.a.AddStepSummary(markdown) })
}
