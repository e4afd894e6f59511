package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

func TestHeadline(t *testing.T) {
	failed := Case{TestID: "t.py::a", Status: junit.StatusFailed, File: "t.py", Line: 3}
	oom := Case{TestID: "t.py::b", Status: junit.StatusError, Reason: "OOMKilled", Attempts: 2, Base: "Python 3.13", File: "t.py"}
	tests := []struct {
		c     Case
		style HeadlineStyle
		want  string
	}{
		{failed, Compact, "FAILED t.py::a"},
		{failed, Aligned, "FAILED t.py::a  at t.py:3"},
		{oom, Compact, "ERROR t.py::b [Python 3.13, OOMKilled, 2 attempts]"},
		{oom, Aligned, "ERROR  t.py::b  at t.py  [Python 3.13, OOMKilled, 2 attempts]"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Headline(tt.c, tt.style))
	}

	// The terminal summary prints the aligned headline.
	var b strings.Builder
	_ = Text(&b, Count([]Case{oom}), []Case{oom}, Options{Slowest: -1})
	assert.Contains(t, b.String(), "\nERROR  t.py::b  at t.py  [Python 3.13, OOMKilled, 2 attempts]\n")
}
