package ghaction

import (
	"fmt"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/history"
)

// compareListed bounds each list of the comparison section; the JUnit
// report and --output json have every test.
const compareListed = 50

// compareSection is the run against its base (history_path): a line of
// counts, then the new failures, fixed, new flaky and slower tests, each
// test id in a code span, and the quarantined tests ready to release.
func compareSection(c *history.Comparison, ready []string) string {
	var b strings.Builder
	if c != nil {
		base := c.Base
		if len(base) > 12 {
			base = base[:12]
		}
		fmt.Fprintf(&b, "#### Compared with %s", code(base))
		if c.Branch != "" {
			fmt.Fprintf(&b, " (%s)", code(c.Branch))
		}
		b.WriteString("\n\n| | Tests |\n| :-- | --: |\n")
		for _, row := range []struct {
			what string
			n    int
		}{
			{"🆕❌ New failures", len(c.NewFailures)}, {"✅ Fixed", len(c.Fixed)}, {"❌ Still failing", len(c.StillFailing)},
			{"🔁 New flaky", len(c.NewFlaky)}, {"🆕 New tests", len(c.NewTests)}, {"➖ Removed tests", len(c.RemovedTests)},
			{"🐢 Slower (2× and 1 s)", len(c.Slower)},
		} {
			fmt.Fprintf(&b, "| %s | %d |\n", row.what, row.n)
		}
		b.WriteString("\n")
		for _, l := range []struct {
			what string
			ids  []string
		}{{"New failures", c.NewFailures}, {"Fixed", c.Fixed}, {"New flaky", c.NewFlaky}} {
			if len(l.ids) == 0 {
				continue
			}
			fmt.Fprintf(&b, "**%s:** ", l.what)
			for i, id := range l.ids {
				if i == compareListed {
					fmt.Fprintf(&b, " and %d more", len(l.ids)-compareListed)
					break
				}
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(code(id))
			}
			b.WriteString("\n\n")
		}
		if len(c.Slower) > 0 {
			b.WriteString("| Slower | Base | Now |\n| :-- | --: | --: |\n")
			for i, s := range c.Slower {
				if i == compareListed {
					break
				}
				fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(s.Test), seconds(s.BaseSeconds), seconds(s.Seconds))
			}
			b.WriteString("\n")
		}
	}
	if len(ready) > 0 {
		fmt.Fprintf(&b, "**Ready to release from quarantine** (passed in each of their last %d recorded runs): ", history.ReadyRuns)
		for i, id := range ready {
			if i == compareListed {
				fmt.Fprintf(&b, " and %d more", len(ready)-compareListed)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(code(id))
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Millisecond).String()
}
