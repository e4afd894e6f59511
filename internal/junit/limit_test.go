package junit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteCapsEachTestcase(t *testing.T) {
	huge := strings.Repeat("é", 1<<20) // 2 MiB
	tc := NewTestcase("tests/test_a.py::test_big")
	tc.Failure = &Result{Message: "AssertionError: " + huge, Text: huge}
	tc.SystemOut = &Output{Text: huge + "last words"}
	tc.SystemErr = &Output{Text: "small"}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, Testsuites{Suites: []Testsuite{{Name: "s", Testcases: []Testcase{tc}}}}))
	assert.Less(t, buf.Len(), 400<<10, "one testcase of the merged report")

	back, err := Parse(&buf)
	require.NoError(t, err)
	got := back.Suites[0].Testcases[0]
	assert.True(t, strings.HasPrefix(got.Failure.Message, "AssertionError: é"))
	assert.True(t, strings.HasSuffix(got.Failure.Message, " [k8s-testrun cut 2080784 bytes]"), got.Failure.Message[len(got.Failure.Message)-60:])
	assert.Contains(t, got.Failure.Text, " [k8s-testrun cut ")
	assert.True(t, strings.HasPrefix(got.SystemOut.Text, "[k8s-testrun cut the first "))
	assert.True(t, strings.HasSuffix(got.SystemOut.Text, "last words"))
	assert.Equal(t, "small", got.SystemErr.Text)
	assert.Len(t, tc.Failure.Message, len("AssertionError: ")+2<<20, "the caller's testcase is left alone")
}

func TestCutHeadTail(t *testing.T) {
	assert.Equal(t, "abc", CutHead("abc", 3))
	assert.Equal(t, "ab [k8s-testrun cut 1 bytes]", CutHead("abc", 2))
	assert.Equal(t, "a [k8s-testrun cut 2 bytes]", CutHead("aé", 2), "never splits a character")
	assert.Equal(t, "[k8s-testrun cut the first 1 bytes]\nbc", CutTail("abc", 2))
	assert.Equal(t, "[k8s-testrun cut the first 2 bytes]\nb", CutTail("éb", 2))
}
