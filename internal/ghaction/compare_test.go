package ghaction

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/k8s-testrun/k8s-testrun/internal/history"
)

// TestCompareSectionEscapesTestIDs: test ids and a branch name are the
// tests' and the project's words, so each is a code span (a table cell's
// pipe escaped), never markup.
func TestCompareSectionEscapesTestIDs(t *testing.T) {
	hostile := "t.py::test[<img src=x>*a*|`b`]"
	c := &history.Comparison{Base: "0123456789abcdef", Branch: "**main**", NewFailures: []string{hostile}, Fixed: []string{"t.py::ok"},
		Slower: []history.Slower{{Test: hostile, BaseSeconds: 1, Seconds: 3}}}
	md := compareSection(c, []string{hostile})
	assert.Contains(t, md, "#### Compared with `0123456789ab` (`**main**`)")
	assert.Contains(t, md, "**New failures:** ``"+hostile+"``")
	assert.Contains(t, md, "| ``t.py::test[<img src=x>*a*\\|`b`]`` | 1s | 3s |")
	assert.Contains(t, md, "**Ready to release from quarantine**")
	for _, line := range strings.Split(md, "\n") {
		if strings.Contains(line, "<img") {
			assert.Contains(t, line, "`t.py::test[<img", "only inside a code span: %s", line)
		}
	}
	assert.Empty(t, compareSection(nil, nil))
}
