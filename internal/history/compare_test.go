package history

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCompare(t *testing.T) {
	flaky := pass("flaky_now", time.Second)
	flaky.Flaky = true
	base := rec(0, "main",
		pass("newly_failing", time.Second), fail("fixed"), fail("still"), pass("flaky_now", time.Second),
		pass("removed", time.Second), pass("slower", time.Second), pass("a_bit_slower", 100*time.Millisecond),
		Test{ID: "errored_now", Verdict: VerdictPassed}, Test{ID: "quarantined", Verdict: VerdictPassed},
		pass("twice_but_fast", 200*time.Millisecond))
	here := []Test{
		fail("newly_failing"), pass("fixed", time.Second), fail("still"), flaky,
		pass("slower", 2500*time.Millisecond), pass("a_bit_slower", 900*time.Millisecond),
		{ID: "errored_now", Verdict: VerdictError, Reasons: []string{"OOMKilled"}},
		{ID: "quarantined", Verdict: VerdictQuarantined},
		pass("twice_but_fast", 500*time.Millisecond),
		pass("brand_new", time.Second), fail("new_and_failing"),
	}
	c := Compare(here, base)
	assert.Equal(t, sha(0), c.Base)
	assert.Equal(t, "main", c.Branch)
	assert.Equal(t, []string{"errored_now", "newly_failing"}, c.NewFailures)
	assert.Equal(t, []string{"fixed"}, c.Fixed)
	assert.Equal(t, []string{"still"}, c.StillFailing)
	assert.Equal(t, []string{"flaky_now"}, c.NewFlaky)
	assert.Equal(t, []string{"brand_new", "new_and_failing"}, c.NewTests)
	assert.Equal(t, []string{"new_and_failing"}, c.FailingNewTests)
	assert.Equal(t, []string{"removed"}, c.RemovedTests)
	assert.Equal(t, []Slower{{Test: "slower", BaseSeconds: 1, Seconds: 2.5}}, c.Slower,
		"2× but under 1 s more, or 1 s more but under 2×, is not slower")
	assert.True(t, c.IsNewFailure("newly_failing"))
	assert.False(t, c.IsNewFailure("still"))
	assert.False(t, (*Comparison)(nil).IsNewFailure("x"))
}
