// Package runnertest reads a step's output as a GitHub Actions runner
// does, for tests that check that no untrusted text issues a workflow
// command. It follows the runner's ActionCommandManager and ActionCommand
// (github.com/actions/runner, src/Runner.Worker/ActionCommandManager.cs and
// src/Runner.Common/ActionCommand.cs): a line is a command when, after
// leading white space, it starts "::name ...::", or when it holds
// "##[name ...]" anywhere; the name must be a registered command; between
// "::stop-commands::TOKEN" and a command named TOKEN, none is acted on.
package runnertest

import (
	"regexp"
	"strings"
	"unicode"
)

// registered are the runner's command names (its command extensions).
var registered = []string{
	"set-env", "set-output", "save-state", "add-mask", "add-path", "add-matcher", "remove-matcher",
	"debug", "warning", "error", "notice", "group", "endgroup", "echo", "internal-set-repo-path",
	stopCommands,
}

const stopCommands = "stop-commands"

// Command is one command the runner would act on.
type Command struct {
	// Name is the command's name, as written.
	Name string
	// Data is what follows the command's name and properties.
	Data string
	// Line is the whole line.
	Line string
	// Legacy says the line holds the "##[" form.
	Legacy bool
}

// Lines splits output as the runner does: at "\n", "\r\n" and a lone "\r".
func Lines(output string) []string {
	return strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(output), "\n")
}

// syntax is the runner's command syntax, registered name or not.
var syntax = regexp.MustCompile(`^\s*::|##\[`)

// LooksLikeCommand tells whether line has a command's syntax: "::" at its
// start after white space (Unicode white space, as .NET's TrimStart), or
// "##[" anywhere.
func LooksLikeCommand(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") || syntax.MatchString(line)
}

// Commands returns the commands the runner would act on in output, in
// order, the stop-commands fences and their ends included.
func Commands(output string) []Command {
	names := map[string]bool{}
	for _, n := range registered {
		names[n] = true
	}
	var out []Command
	token := ""
	for _, l := range Lines(output) {
		c, ok := parseV2(l, names)
		if !ok {
			c, ok = parseLegacy(l, names)
		}
		if !ok {
			continue
		}
		name := strings.ToLower(c.Name)
		if token != "" {
			if name == token {
				delete(names, token)
				token = ""
				out = append(out, c)
			}
			continue
		}
		if name == stopCommands && c.Data != "" {
			token = strings.ToLower(c.Data)
			names[token] = true
		}
		out = append(out, c)
	}
	return out
}

func parseV2(line string, names map[string]bool) (Command, bool) {
	msg := strings.TrimLeftFunc(line, unicode.IsSpace)
	if !strings.HasPrefix(msg, "::") {
		return Command{}, false
	}
	end := strings.Index(msg[2:], "::")
	if end < 0 {
		return Command{}, false
	}
	info := msg[2 : 2+end]
	name, _, _ := strings.Cut(info, " ")
	if !names[strings.ToLower(name)] {
		return Command{}, false
	}
	return Command{Name: name, Data: msg[2+end+2:], Line: line}, true
}

func parseLegacy(line string, names map[string]bool) (Command, bool) {
	i := strings.Index(line, "##[")
	if i < 0 {
		return Command{}, false
	}
	rb := strings.IndexByte(line[i:], ']')
	if rb < 0 {
		return Command{}, false
	}
	info := line[i+3 : i+rb]
	name, _, _ := strings.Cut(info, " ")
	if !names[strings.ToLower(name)] {
		return Command{}, false
	}
	return Command{Name: name, Data: line[i+rb+1:], Line: line, Legacy: true}, true
}
