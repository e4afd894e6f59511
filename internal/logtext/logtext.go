// Package logtext makes text that k8s-testrun did not write (test output,
// pytest's and pip's messages, errors that quote them) safe to print where
// a GitHub Actions runner reads the log: outside a stop-commands fence the
// runner takes any line that starts with "::", after leading white space,
// as a workflow command, and it ends a line at "\n" and at a lone "\r".
//
// Line and Lines break every such line start with a backslash ("\::"), and
// likewise the legacy "##[" command prefix (a command anywhere in a line),
// so that the text reads the same to a person and is never a command.
// Writer does the same to a stream, however it is cut into writes: the
// command wraps stdout and stderr in one, and only the action's own
// commands pass it, through its Commands path.
package logtext

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
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

// Writer defuses every line written through it, however the lines are cut
// into writes: a "::" at a line start (after leading white space) becomes
// "\::" and a "##[" anywhere becomes "##\[", as in Lines. It keeps what it
// needs of the last write to see a command split across writes: whether
// the line so far is only white space, and how many '#' end it; a lone ':'
// or a partial UTF-8 character at a line start is held back until the next
// write tells what it begins (Flush prints it).
//
// The commands k8s-testrun issues itself go through Commands, the one way
// past the defusing.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
	// blank says the current line holds only white space so far.
	blank bool
	// hashes counts the '#' that end the output, up to two.
	hashes int
	// held are bytes at a line start whose meaning the next byte decides.
	held []byte
}

// NewWriter returns a Writer printing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, blank: true} }

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(w.defuse(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// defuse returns p defused, given what was written before; it may hold
// back a few bytes at its end.
func (w *Writer) defuse(p []byte) []byte {
	buf := p
	if len(w.held) > 0 {
		buf = append(w.held, p...)
		w.held = nil
	}
	out := make([]byte, 0, len(buf)+8)
	for i := 0; i < len(buf); {
		c := buf[i]
		if c == '\n' || c == '\r' {
			out = append(out, c)
			w.blank, w.hashes = true, 0
			i++
			continue
		}
		if w.blank {
			if c == ':' {
				if i+1 == len(buf) {
					w.held = []byte{c}
					break
				}
				if buf[i+1] == ':' {
					out = append(out, '\\')
				}
				out = append(out, c)
				w.blank, w.hashes = false, 0
				i++
				continue
			}
			if !utf8.FullRune(buf[i:]) {
				w.held = append([]byte(nil), buf[i:]...)
				break
			}
			r, size := utf8.DecodeRune(buf[i:])
			if unicode.IsSpace(r) {
				out = append(out, buf[i:i+size]...)
				i += size
				continue
			}
			w.blank = false
		}
		switch {
		case c == '[' && w.hashes == 2:
			out = append(out, '\\')
			w.hashes = 0
		case c == '#':
			w.hashes = min(w.hashes+1, 2)
		default:
			w.hashes = 0
		}
		out = append(out, c)
		i++
	}
	return out
}

// Flush prints the bytes held back, which alone are no command.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}

func (w *Writer) flush() error {
	if len(w.held) == 0 {
		return nil
	}
	held := w.held
	w.held = nil
	w.blank, w.hashes = false, 0
	_, err := w.w.Write(held)
	return err
}

// Commands returns the writer for the workflow commands k8s-testrun
// issues itself (masks, groups, stop-commands fences, annotations): each
// Write is one command line, printed as it is, on a line of its own, and
// ends that line, so that no defused text can run on into it or after it
// on the same line.
func (w *Writer) Commands() io.Writer { return commandWriter{w} }

type commandWriter struct{ w *Writer }

func (c commandWriter) Write(p []byte) (int, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flush(); err != nil {
		return 0, err
	}
	line := p
	if !w.blank {
		line = append([]byte{'\n'}, line...)
	}
	if !bytes.HasSuffix(line, []byte{'\n'}) {
		line = append(line[:len(line):len(line)], '\n')
	}
	if _, err := w.w.Write(line); err != nil {
		return 0, err
	}
	w.blank, w.hashes = true, 0
	return len(p), nil
}
