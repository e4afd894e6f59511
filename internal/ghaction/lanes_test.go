package ghaction

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadLanes(t *testing.T) {
	ws := workspace(t)
	c, _, err := Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x",
		InputLanes: "serial=serial,db_migration\nslow=long; flaky = retry_me\n\n", InputSlowTimeout: "90", InputFlakyRetries: "4"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"serial=serial,db_migration", "slow=long", "flaky = retry_me"}, c.Lanes, "lines and semicolons separate mappings")
	assert.Equal(t, []string{"serial", "db_migration"}, c.LaneMarkers["serial"])
	assert.Equal(t, []string{"long"}, c.LaneMarkers["slow"])
	assert.Equal(t, []string{"retry_me"}, c.LaneMarkers["flaky"])
	assert.Equal(t, []string{"disruptive"}, c.LaneMarkers["disruptive"])
	assert.Equal(t, 90*time.Second, c.SlowTimeout, "a bare number is seconds")
	assert.Equal(t, 4, c.FlakyRetries)

	c, _, err = Read(runnerEnv(ws, map[string]string{InputRepository: "r.example/x"}))
	require.NoError(t, err)
	assert.Empty(t, c.Lanes)
	assert.Equal(t, 2, c.FlakyRetries)
	assert.Equal(t, 30*time.Minute, c.EffectiveSlowTimeout(), "3× the default timeout")
}

func TestReadLanesBad(t *testing.T) {
	ws := workspace(t)
	for _, tt := range []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"unknown policy", map[string]string{InputLanes: "quick=fast"}, `lanes "quick=fast": unknown policy "quick"`},
		{"empty marker list", map[string]string{InputLanes: "serial="}, `lanes "serial=": no marker for serial`},
		{"slow timeout not a duration", map[string]string{InputSlowTimeout: "long"}, `slow_timeout "long": not a duration`},
		{"flaky retries not a number", map[string]string{InputFlakyRetries: "x"}, `flaky_retries "x": not a whole number`},
		{"flaky retries negative", map[string]string{InputFlakyRetries: "-1"}, `flaky_retries "-1": must be 0 or more`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.inputs[InputRepository] = "r.example/x"
			_, _, err := Read(runnerEnv(ws, tt.inputs))
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.want), err.Error())
			assert.NotContains(t, err.Error(), "\n", "one problem, one line")
		})
	}
}

func TestSummaryByLane(t *testing.T) {
	s := sampleSummary()
	assert.NotContains(t, s.Markdown(MaxJobSummary), "By lane", "a run without lanes shows none")
	s.Lanes = []string{"default: 6 passed (6 tests)", "serial: 3 passed (3 tests)"}
	assert.Contains(t, s.Markdown(MaxJobSummary), "**By lane:** default: 6 passed (6 tests) · serial: 3 passed (3 tests)\n")
}
