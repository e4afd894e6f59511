package discover

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// collectWithMarkers is what discovery prints with the markers plugin:
// the ids, then the plugin's lines, then pytest's summary.
const collectWithMarkers = "tests/test_t.py::test_plain\n" +
	"tests/test_t.py::test_2031\n" +
	"tests/test_t.py::TestC::test_past[a b]\n" +
	"\n" +
	`k8s-testrun-marker {"nodeid": "tests/test_t.py::test_2031", "faketime": "2031-06-01 12:00:00"}` + "\n" +
	`k8s-testrun-marker {"nodeid": "tests/test_t.py::TestC::test_past[a b]", "faketime": "-2h"}` + "\n" +
	"3 tests collected in 0.01s\n"

func TestSplitMarkers(t *testing.T) {
	markers, rest, err := SplitMarkers(collectWithMarkers)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"tests/test_t.py::test_2031":             "2031-06-01 12:00:00",
		"tests/test_t.py::TestC::test_past[a b]": "-2h",
	}, markers)
	assert.NotContains(t, rest, "k8s-testrun-marker")
	ids, err := Parse(rest, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"tests/test_t.py::test_plain", "tests/test_t.py::test_2031", "tests/test_t.py::TestC::test_past[a b]"}, ids)
}

func TestSplitMarkersWithoutMarkers(t *testing.T) {
	out := "t.py::a\n\n1 test collected in 0.01s\n"
	markers, rest, err := SplitMarkers(out)
	require.NoError(t, err)
	assert.Empty(t, markers)
	assert.Equal(t, out, rest)
}

func TestSplitMarkersRejectsABadValueNamingTheTest(t *testing.T) {
	for name, line := range map[string]string{
		"malformed":  `k8s-testrun-marker {"nodeid": "t.py::bad", "faketime": "next week"}`,
		"not a str":  `k8s-testrun-marker {"nodeid": "t.py::bad", "error": "faketime(2031) takes one string"}`,
		"nothing":    `k8s-testrun-marker {"nodeid": "t.py::bad"}`,
		"with speed": `k8s-testrun-marker {"nodeid": "t.py::bad", "faketime": "2031-06-01 12:00:00 x2"}`,
	} {
		_, _, err := SplitMarkers("t.py::bad\n\n" + line + "\n1 test collected in 0.01s\n")
		require.Error(t, err, name)
		var me *MarkerError
		require.ErrorAs(t, err, &me, name)
		assert.Equal(t, "t.py::bad", me.TestID)
		assert.Contains(t, err.Error(), "test t.py::bad: @pytest.mark.faketime", name)
		assert.NotContains(t, err.Error(), "\n", name)
	}
}

func TestSplitMarkersLeavesWhatDoesNotDecode(t *testing.T) {
	out := "t.py::a\n\nk8s-testrun-marker not json\n1 test collected in 0.01s\n"
	markers, rest, err := SplitMarkers(out)
	require.NoError(t, err)
	assert.Empty(t, markers)
	assert.Equal(t, out, rest)
}

func TestSplitMarks(t *testing.T) {
	out := "t.py::a\nt.py::b\nt.py::c\n\n" +
		`k8s-testrun-marker {"nodeid": "t.py::a", "faketime": "+3d"}` + "\n" +
		`k8s-testrun-marks {"nodeid": "t.py::a", "markers": ["serial", "faketime_not"]}` + "\n" +
		"\x1b[0m" + `k8s-testrun-marks {"nodeid": "t.py::b", "markers": ["db_migration", "", "` + strings.Repeat("x", 101) + `"]}` + "\n" +
		`k8s-testrun-marks {not json` + "\n" +
		"3 tests collected in 0.01s\n"
	marks, rest := SplitMarks(out)
	assert.Equal(t, map[string][]string{"t.py::a": {"serial", "faketime_not"}, "t.py::b": {"db_migration"}}, marks)
	assert.Contains(t, rest, "k8s-testrun-marks {not json", "a line that does not decode stays for pytest's parser")
	assert.NotContains(t, rest, `"serial"`)
	// The faketime lines are still SplitMarkers'.
	markers, rest, err := SplitMarkers(rest)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"t.py::a": "+3d"}, markers)
	assert.NotContains(t, rest, "k8s-testrun-marker ")

	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprint("m", i))
	}
	marks, _ = SplitMarks(`k8s-testrun-marks {"nodeid": "t.py::c", "markers": [` + strings.Join(many, ",") + "]}\n")
	assert.Len(t, marks["t.py::c"], maxMarks, "a test's marker names are bounded")

	none, same := SplitMarks("t.py::a\n")
	assert.Nil(t, none)
	assert.Equal(t, "t.py::a\n", same)
}

func TestSplitVersions(t *testing.T) {
	out := "t.py::a\n\n" +
		"\x1b[0m" + `k8s-testrun-versions {"python": "3.13.5", "pytest": "8.3.5"}` + "\n" +
		`k8s-testrun-versions {not json` + "\n" +
		"1 test collected in 0.01s\n"
	v, rest := SplitVersions(out)
	assert.Equal(t, Versions{Python: "3.13.5", Pytest: "8.3.5"}, v)
	assert.Equal(t, "3.13", v.Minor())
	assert.NotContains(t, rest, `"3.13.5"`)
	assert.Contains(t, rest, "k8s-testrun-versions {not json", "a line that does not decode stays for pytest's parser")
	ids, err := Parse(rest, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"t.py::a"}, ids)

	odd, _ := SplitVersions(`k8s-testrun-versions {"python": "3.11.2\u001b]0;x", "pytest": "` + strings.Repeat("7", 40) + `"}` + "\n")
	assert.Equal(t, Versions{}, odd, "a version with control characters or past its bound is dropped")

	none, same := SplitVersions("t.py::a\n")
	assert.Equal(t, Versions{}, none)
	assert.Equal(t, "t.py::a\n", same)
}
