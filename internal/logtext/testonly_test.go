package logtext

import (
	"strings"
	"unicode"
)

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
