// Package logtext makes text that k8s-testrun did not write (test output,
// pytest's and pip's messages, errors that quote them) safe to print where
// a GitHub Actions runner reads the log: outside a stop-commands fence the
// runner takes any line that starts with "::", after leading white space,
// as a workflow command, and it ends a line at "\n" and at a lone "\r".
//
// Line and Lines break every such line start with a backslash ("\::"), and
// likewise the legacy "##[" command prefix, so that the text reads the same
// to a person and is never a command.
package logtext

import (
	"io"
	"strings"
	"unicode"
)

// breaks are the line ends a runner splits on.
var breaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// Line returns s as one line: each line break, "\r" included, becomes "; ",
// and the result is defused.
func Line(s string) string {
	lines := strings.Split(breaks.Replace(strings.TrimSpace(s)), "\n")
	for i, l := range lines {
		lines[i] = defuse(l)
	}
	return strings.Join(lines, "; ")
}

// Lines returns s with every line break a "\n" ("\r\n" and a lone "\r"
// become one) and every line defused.
func Lines(s string) string {
	lines := strings.Split(breaks.Replace(s), "\n")
	for i, l := range lines {
		lines[i] = defuse(l)
	}
	return strings.Join(lines, "\n")
}

// defuse breaks a workflow command at the start of line, and the legacy
// "##[" prefix anywhere in it.
func defuse(line string) string {
	rest := strings.TrimLeftFunc(line, unicode.IsSpace)
	if strings.HasPrefix(rest, "::") {
		line = line[:len(line)-len(rest)] + `\` + rest
	}
	return strings.ReplaceAll(line, "##[", `##\[`)
}

// IsCommand tells whether the runner would take line (one line, split as
// the runner splits) as a workflow command.
func IsCommand(line string) bool {
	rest := strings.TrimLeftFunc(line, unicode.IsSpace)
	return strings.HasPrefix(rest, "::") || strings.Contains(line, "##[")
}

// SplitRunnerLines splits output into lines as the runner does: at "\n",
// "\r\n" and a lone "\r".
func SplitRunnerLines(output string) []string {
	return strings.Split(breaks.Replace(output), "\n")
}

// Writer defuses what is written through it. Each Write is taken as whole
// lines, as fmt.Fprint* calls give them; a command split across two
// Writes is not seen.
type Writer struct{ W io.Writer }

// NewWriter returns a Writer printing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{W: w} }

func (w *Writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.W, Lines(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
