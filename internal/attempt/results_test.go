package attempt

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

const pytestJUnit = `<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="1" time="0.02">
<testcase classname="tests.test_basic" name="test_fails_with_message" file="tests/test_basic.py" line="8" time="0.001">
<failure message="AssertionError: expected three apples&#10;assert 1 == 3">def test_fails_with_message(): ...</failure>
</testcase></testsuite></testsuites>`

func block(t *testing.T, files ...transport.File) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("collector starting\n")
	require.NoError(t, transport.Encode(&b, files, 1<<20))
	return b.Bytes()
}

func cases(ids ...string) []plan.Case {
	out := make([]plan.Case, len(ids))
	for i, id := range ids {
		out[i] = plan.Case{ID: testid.CaseID(id), TestID: id}
	}
	return out
}

func TestParseResults(t *testing.T) {
	log := block(t,
		transport.File{Name: "junit.xml", Data: []byte(pytestJUnit)},
		transport.File{Name: "output.txt", Data: []byte("F\n1 failed\n")},
		transport.File{Name: "exitcode", Data: []byte("1\n")},
		transport.File{Name: "artifacts/report.txt", Data: []byte("hello")},
	)
	res, err := ParseResults(log)
	require.NoError(t, err)
	require.NotNil(t, res.Testcase)
	assert.Equal(t, "tests/test_basic.py", res.Testcase.File)
	assert.Equal(t, 9, res.Testcase.Line, "pytest writes 0-based lines")
	assert.Equal(t, 1, res.ExitCode)
	assert.Equal(t, "F\n1 failed\n", res.Output)
	require.Len(t, res.Artifacts, 1)
	assert.Equal(t, "report.txt", res.Artifacts[0].Name)

	_, err = ParseResults([]byte("no block here\n"))
	assert.Error(t, err)
}

func TestSettle(t *testing.T) {
	tc := func(xml string) *junit.Testcase {
		ts, err := junit.Parse(strings.NewReader(`<testsuite name="pytest">` + xml + `</testsuite>`))
		require.NoError(t, err)
		return &ts.Suites[0].Testcases[0]
	}
	skipped := tc(`<testcase classname="t" name="s"><skipped type="pytest.skip" message="not on this platform"/></testcase>`)
	xfail := tc(`<testcase classname="t" name="x"><skipped type="pytest.xfail" message="known bug 12"/></testcase>`)
	fixtureErr := tc(`<testcase classname="t" name="e"><error message="failed on setup with &quot;RuntimeError: database unavailable&quot;">tb</error></testcase>`)
	failure := tc(`<testcase classname="t" name="f"><failure message="AssertionError: expected three apples">tb</failure></testcase>`)
	passed := tc(`<testcase classname="t" name="p"/>`)

	tests := []struct {
		name    string
		in      plan.Outcome
		res     Results
		status  plan.Status
		message string
		reason  string
	}{
		{"passed", plan.Outcome{Status: plan.Passed}, Results{Testcase: passed}, plan.Passed, "", ""},
		{"skip", plan.Outcome{Status: plan.Passed}, Results{Testcase: skipped}, plan.Skipped, "not on this platform", ""},
		{"xfail is skipped", plan.Outcome{Status: plan.Passed}, Results{Testcase: xfail}, plan.Skipped, "known bug 12", ""},
		{"failure", plan.Outcome{Status: plan.Failed, ExitCode: 1}, Results{Testcase: failure}, plan.Failed, "AssertionError: expected three apples", ""},
		{"fixture error is a test error", plan.Outcome{Status: plan.Failed, ExitCode: 1}, Results{Testcase: fixtureErr}, plan.Error, `failed on setup with "RuntimeError: database unavailable"`, ""},
		{"missing results keep the failure", plan.Outcome{Status: plan.Failed, ExitCode: 1}, Results{}, plan.Failed, "pytest exited with code 1 and wrote no JUnit result", ""},
		{"missing results keep the pass", plan.Outcome{Status: plan.Passed}, Results{}, plan.Passed, "", ""},
		{"infrastructure outcome stands", plan.Outcome{Status: plan.Error, Reason: "OOMKilled", Message: "memory"}, Results{Testcase: passed}, plan.Error, "memory", "OOMKilled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Settle(tt.in, tt.res)
			assert.Equal(t, tt.status, got.Status)
			assert.Equal(t, tt.message, got.Message)
			assert.Equal(t, tt.reason, got.Reason)
		})
	}
}
