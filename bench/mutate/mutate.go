// Package mutate breaks one Python function at a time, for measuring which
// tests a change can affect. It edits source text by lines and never runs
// it: each mutation inserts one statement at the top of one function's
// body, so that the function raises, or returns None instead of its value.
package mutate

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Kind is how a mutation breaks its function.
type Kind string

const (
	// Raise makes the function raise RuntimeError on entry.
	Raise Kind = "raise"
	// ReturnNone makes the function return None on entry (a generator
	// then yields nothing).
	ReturnNone Kind = "return-none"
)

// Func is one function definition found in a file.
type Func struct {
	File string
	Name string
	// Def is the 0-based line of the def keyword; Body the 0-based line
	// the body starts on; End the line after the body's last line.
	Def, Body, End int
	// Indent is the body's indentation.
	Indent string
}

// Mutation is one function broken one way.
type Mutation struct {
	Func
	Kind Kind
	// Line is the statement inserted before line Body.
	Line string
}

func (m Mutation) String() string {
	return fmt.Sprintf("%s:%d %s %s", m.File, m.Def+1, m.Name, m.Kind)
}

// Apply returns src with the mutation's line inserted.
func (m Mutation) Apply(src []byte) []byte {
	lines := strings.SplitAfter(string(src), "\n")
	out := make([]string, 0, len(lines)+1)
	out = append(out, lines[:m.Body]...)
	out = append(out, m.Indent+m.Line+"\n")
	out = append(out, lines[m.Body:]...)
	return []byte(strings.Join(out, ""))
}

// Funcs lists the functions of one Python file whose body starts on a line
// of its own (a def with its body on the def line is left out).
func Funcs(file string, src []byte) []Func {
	lines := strings.Split(string(src), "\n")
	var out []Func
	inString := "" // the delimiter of a triple-quoted string left open
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if inString != "" {
			if strings.Contains(line, inString) {
				inString = closeTriple(line[strings.Index(line, inString)+3:], "")
			}
			continue
		}
		trimmed := strings.TrimLeft(line, " \t")
		indent := line[:len(line)-len(trimmed)]
		name, ok := defName(trimmed)
		if !ok {
			inString = closeTriple(trimmed, "")
			continue
		}
		// The header may span lines: it ends where brackets balance.
		end, rest, ok := headerEnd(lines, i)
		if !ok || strings.TrimSpace(rest) != "" {
			i = end
			continue
		}
		body := end + 1
		for body < len(lines) && isBlank(lines[body]) {
			body++
		}
		if body >= len(lines) {
			break
		}
		bodyIndent := lines[body][:len(lines[body])-len(strings.TrimLeft(lines[body], " \t"))]
		if len(bodyIndent) <= len(indent) {
			continue
		}
		last := body
		open := ""
		for j := body; j < len(lines); j++ {
			if open != "" {
				if strings.Contains(lines[j], open) {
					open = closeTriple(lines[j][strings.Index(lines[j], open)+3:], "")
				}
				last = j
				continue
			}
			if isBlank(lines[j]) {
				continue
			}
			if j > body && len(lines[j])-len(strings.TrimLeft(lines[j], " \t")) <= len(indent) {
				break
			}
			last = j
			open = closeTriple(strings.TrimLeft(lines[j], " \t"), "")
		}
		out = append(out, Func{File: file, Name: name, Def: i, Body: body, End: last + 1, Indent: bodyIndent})
		// Go on at the body: nested functions are functions too.
		i = end
	}
	return out
}

// Generate picks n distinct functions from files (path to source) with a
// generator seeded by seed, and breaks each one way. The same files and
// seed give the same mutations.
func Generate(files map[string][]byte, n int, seed uint64) ([]Mutation, error) {
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	var all []Func
	for _, f := range names {
		all = append(all, Funcs(f, files[f])...)
	}
	if n > len(all) {
		return nil, fmt.Errorf("%d mutations asked for, %d functions found", n, len(all))
	}
	r := rand.New(rand.NewPCG(seed, seed^0x6d757461))
	picked := r.Perm(len(all))[:n]
	out := make([]Mutation, 0, n)
	for k, i := range picked {
		f := all[i]
		m := Mutation{Func: f, Kind: Raise, Line: fmt.Sprintf("raise RuntimeError(%q)", fmt.Sprintf("mutation %d: %s", k+1, f.Name))}
		body := strings.Split(string(files[f.File]), "\n")[f.Body:f.End]
		if r.IntN(2) == 1 && !yields(body) {
			m.Kind, m.Line = ReturnNone, "return None"
		}
		out = append(out, m)
	}
	return out, nil
}

// yields tells whether a body holds a yield, which makes its function a
// generator: a return at its top would only end the iteration.
func yields(body []string) bool {
	for _, l := range body {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "yield") || strings.Contains(t, " yield ") || strings.Contains(t, "(yield") || strings.Contains(t, "= yield") {
			return true
		}
	}
	return false
}

func defName(trimmed string) (string, bool) {
	rest, ok := strings.CutPrefix(trimmed, "def ")
	if !ok {
		rest, ok = strings.CutPrefix(trimmed, "async def ")
	}
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(strings.TrimSpace(rest), "(")
	if !ok || name == "" {
		return "", false
	}
	return strings.TrimSpace(name), true
}

// headerEnd scans a def header from line i: it returns the line holding
// the colon that ends it and what follows that colon (a comment aside).
func headerEnd(lines []string, i int) (int, string, bool) {
	depth := 0
	for j := i; j < len(lines) && j < i+50; j++ {
		l := lines[j]
		var quote byte
		for k := 0; k < len(l); k++ {
			c := l[k]
			switch {
			case quote != 0:
				if c == '\\' {
					k++
				} else if c == quote {
					quote = 0
				}
			case c == '\'' || c == '"':
				quote = c
			case c == '#':
				k = len(l)
			case c == '(' || c == '[' || c == '{':
				depth++
			case c == ')' || c == ']' || c == '}':
				depth--
			case c == ':' && depth == 0:
				rest := l[k+1:]
				if h := strings.Index(rest, "#"); h >= 0 {
					rest = rest[:h]
				}
				return j, rest, true
			}
		}
	}
	return i, "", false
}

// closeTriple returns the triple quote that s leaves open, or "".
func closeTriple(s, open string) string {
	for {
		if open != "" {
			k := strings.Index(s, open)
			if k < 0 {
				return open
			}
			s, open = s[k+3:], ""
			continue
		}
		a, b := strings.Index(s, `"""`), strings.Index(s, `'''`)
		if h := strings.Index(s, "#"); h >= 0 && (a < 0 || h < a) && (b < 0 || h < b) {
			return ""
		}
		switch {
		case a < 0 && b < 0:
			return ""
		case b < 0 || (a >= 0 && a < b):
			s, open = s[a+3:], `"""`
		default:
			s, open = s[b+3:], `'''`
		}
	}
}

func isBlank(l string) bool {
	t := strings.TrimSpace(l)
	return t == "" || strings.HasPrefix(t, "#")
}
