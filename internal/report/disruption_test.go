package report

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
)

func TestTextListsInfrastructureRetries(t *testing.T) {
	cases := []Case{
		{TestID: "t.py::a", Status: junit.StatusPassed, Attempts: 2, Disruptions: []Disruption{
			{Attempt: 1, Reason: "Evicted", Start: "2026-03-01T10:00:00.000Z", End: "2026-03-01T10:00:03.000Z", Pod: "p-1"},
		}},
		{TestID: "t.py::b", Status: junit.StatusPassed, Attempts: 1},
	}
	var buf bytes.Buffer
	require.NoError(t, Text(&buf, Count(cases), cases, Options{}))
	out := buf.String()
	assert.Contains(t, out, "infrastructure retries")
	assert.Contains(t, out, "RETRY  t.py::a  attempt 1  Evicted  pod p-1  2026-03-01T10:00:00.000Z to 2026-03-01T10:00:03.000Z\n")
	assert.NotContains(t, out, "t.py::b  attempt")

	buf.Reset()
	require.NoError(t, Text(&buf, Count(cases[1:]), cases[1:], Options{}))
	assert.NotContains(t, buf.String(), "infrastructure retries", "no section without a retry")
}
