package quarantine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const good = `
quarantine:
  - test: tests/test_a.py::test_fails
    until: 2026-12-31
    reason: "flaky on ARM, #123"
    owner: "@alice"
    link: https://example.com/issues/123
  - test: "tests/test_b.py::test_param[1-2]"
    until: "2026-06-30"
    reason: old
  - test: tests/test_c.py::*
    until: 2027-01-15
    reason: a whole module
`

func day(s string, hour int) time.Time {
	d, err := time.Parse(DateLayout, s)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(hour) * time.Hour)
}

func TestParse(t *testing.T) {
	l, err := Parse([]byte(good), "q.yaml")
	require.NoError(t, err)
	require.Len(t, l.Entries, 3)
	e := l.Entries[0]
	assert.Equal(t, "tests/test_a.py::test_fails", e.Test)
	assert.Equal(t, "2026-12-31", e.Until, "an unquoted date stays the date written")
	assert.Equal(t, "@alice", e.Owner)
	assert.Equal(t, "flaky on ARM, #123 (until 2026-12-31, owner @alice, https://example.com/issues/123)", e.Describe())

	empty, err := Parse(nil, "q.yaml")
	require.NoError(t, err)
	assert.Empty(t, empty.Entries)
}

func TestMatches(t *testing.T) {
	l, err := Parse([]byte(good), "q.yaml")
	require.NoError(t, err)
	a, b, c := l.Entries[0], l.Entries[1], l.Entries[2]
	assert.True(t, a.Matches("tests/test_a.py::test_fails"))
	assert.False(t, a.Matches("tests/test_a.py::test_fails_too"), "an id is matched whole")
	// Brackets of a parametrized id are the id's own, not a class.
	assert.True(t, b.Matches("tests/test_b.py::test_param[1-2]"))
	assert.False(t, b.Matches("tests/test_b.py::test_param[1]"))
	assert.True(t, c.Matches("tests/test_c.py::test_x"))
	assert.True(t, c.Matches("tests/test_c.py::TestK::test_y"))
	assert.False(t, c.Matches("tests/sub/test_c.py::test_x"))
	// path.Match: * stops at a slash.
	star := Entry{Test: "tests/*::test_fails"}
	assert.True(t, star.Matches("tests/test_a.py::test_fails"))
	assert.False(t, star.Matches("tests/sub/test_a.py::test_fails"))
	assert.True(t, Entry{Test: "tests/*/test_?.py::*"}.Matches("tests/sub/test_a.py::test_fails"))
}

func TestExpiry(t *testing.T) {
	l, err := Parse([]byte(good), "q.yaml")
	require.NoError(t, err)
	a := l.Entries[0]
	assert.False(t, a.Expired(day("2026-12-31", 0)))
	assert.False(t, a.Expired(day("2026-12-31", 23).Add(59*time.Minute)), "protects through its last day, UTC")
	assert.True(t, a.Expired(day("2027-01-01", 0)))
	// The same instant in another zone is the same verdict.
	ny := time.FixedZone("NY", -5*3600)
	assert.True(t, a.Expired(time.Date(2026, 12, 31, 19, 0, 0, 0, ny)), "00:00 UTC on the 1st")

	now := day("2026-09-01", 12)
	e, ok := l.Lookup("tests/test_a.py::test_fails", now)
	require.True(t, ok)
	assert.False(t, e.Expired(now))
	e, ok = l.Lookup("tests/test_b.py::test_param[1-2]", now)
	require.True(t, ok)
	assert.True(t, e.Expired(now))
	_, ok = l.Lookup("tests/test_z.py::test", now)
	assert.False(t, ok)
	assert.Equal(t, []string{"tests/test_b.py::test_param[1-2]"}, tests(l.Expired(now)))
	assert.Equal(t, `q.yaml: entry 2 (test "tests/test_b.py::test_param[1-2]"): quarantine expired after 2026-06-30, so its failures count again; fix the test, or move until forward with a reason`,
		l.ExpiredLine(l.Expired(now)[0]))

	// A live entry wins over an expired one for the same test.
	both, err := Parse([]byte("quarantine:\n- {test: 't::x', until: '2020-01-01', reason: old}\n- {test: 't::*', until: '2030-01-01', reason: new}\n"), "q")
	require.NoError(t, err)
	e, ok = both.Lookup("t::x", now)
	require.True(t, ok)
	assert.Equal(t, "new", e.Reason)
	var nilList *List
	_, ok = nilList.Lookup("t::x", now)
	assert.False(t, ok)
}

func tests(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Test)
	}
	return out
}

func TestBadEntries(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		lines      []string
	}{
		{"no until", "quarantine:\n- {test: t.py::a, reason: r}\n",
			[]string{`q.yaml: entry 1 (test "t.py::a"): no until date; add until: YYYY-MM-DD, the last day the quarantine holds`}},
		{"bad date", "quarantine:\n- {test: t.py::a, until: 31/12/2026, reason: r}\n",
			[]string{`q.yaml: entry 1 (test "t.py::a"): until "31/12/2026" is not a date; write it as YYYY-MM-DD`}},
		{"impossible date", "quarantine:\n- {test: t.py::a, until: 2026-02-30, reason: r}\n",
			[]string{`q.yaml: entry 1 (test "t.py::a"): until "2026-02-30" is not a date; write it as YYYY-MM-DD`}},
		{"no reason", "quarantine:\n- {test: t.py::a, until: 2026-12-31}\n",
			[]string{`q.yaml: entry 1 (test "t.py::a"): no reason; add reason: why the test is quarantined`}},
		{"blank reason", "quarantine:\n- {test: t.py::a, until: 2026-12-31, reason: '  '}\n",
			[]string{`q.yaml: entry 1 (test "t.py::a"): no reason; add reason: why the test is quarantined`}},
		{"no test", "quarantine:\n- {until: 2026-12-31, reason: r}\n",
			[]string{`q.yaml: entry 1: no test; add test: <test id or pattern>`}},
		{"malformed pattern", "quarantine:\n- {test: 't.py::a[', until: 2026-12-31, reason: r}\n",
			[]string{`q.yaml: entry 1 (test "t.py::a["): the pattern is malformed (syntax error in pattern); fix its brackets or escape them with \`}},
		{"one line each", "quarantine:\n- {test: t.py::a}\n- {test: t.py::b, until: 2026-12-31, reason: ok}\n- {test: t.py::c, until: x, reason: r}\n",
			[]string{
				`q.yaml: entry 1 (test "t.py::a"): no until date; add until: YYYY-MM-DD, the last day the quarantine holds`,
				`q.yaml: entry 1 (test "t.py::a"): no reason; add reason: why the test is quarantined`,
				`q.yaml: entry 3 (test "t.py::c"): until "x" is not a date; write it as YYYY-MM-DD`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "q.yaml")
			require.Error(t, err)
			assert.Equal(t, strings.Join(tc.lines, "\n"), err.Error())
			var ee *EntryError
			assert.True(t, errors.As(err, &ee))
		})
	}
}

func TestStrict(t *testing.T) {
	for _, bad := range []string{
		"quarantine:\n- {test: t.py::a, until: 2026-12-31, reason: r, expires: 2027-01-01}\n",
		"quarantined:\n- {test: t.py::a, until: 2026-12-31, reason: r}\n",
		"- {test: t.py::a, until: 2026-12-31, reason: r}\n",
		"quarantine: [\n",
	} {
		_, err := Parse([]byte(bad), "q.yaml")
		require.Error(t, err, bad)
		assert.True(t, strings.HasPrefix(err.Error(), "q.yaml: "), err.Error())
		assert.NotContains(t, err.Error(), "\n", "one line")
		var ee *EntryError
		assert.True(t, errors.As(err, &ee))
	}
}

func TestLoadIsBounded(t *testing.T) {
	l, err := Load(strings.NewReader(good), "q.yaml")
	require.NoError(t, err)
	assert.Len(t, l.Entries, 3)

	big := "quarantine: []\n#" + strings.Repeat("x", MaxFileBytes)
	_, err = Load(strings.NewReader(big), "q.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than 1048576 bytes")
}

func TestExcuses(t *testing.T) {
	both, err := Parse([]byte("quarantine:\n- {test: 't::x', until: '2026-06-30', reason: old}\n- {test: 't::*', until: '2026-12-31', reason: new}\n"), "q")
	require.NoError(t, err)
	e, ok := both.Excuses("t::x", day("2026-06-30", 12))
	require.True(t, ok)
	assert.Equal(t, "old", e.Reason, "the first live entry")
	e, ok = both.Excuses("t::x", day("2026-07-01", 0))
	require.True(t, ok)
	assert.Equal(t, "new", e.Reason)
	_, ok = both.Excuses("t::x", day("2027-01-01", 0))
	assert.False(t, ok, "an expired entry excuses nothing")
	_, ok = both.Excuses("u::x", day("2026-06-30", 12))
	assert.False(t, ok)
	var nilList *List
	_, ok = nilList.Excuses("t::x", day("2026-06-30", 12))
	assert.False(t, ok)
}

func TestUnmatched(t *testing.T) {
	l, err := Parse([]byte(good), "q.yaml")
	require.NoError(t, err)
	err = l.Unmatched([]string{"tests/test_a.py::test_fails", "tests/test_c.py::test_x"})
	require.Error(t, err)
	assert.Equal(t, `q.yaml: entry 2 (test "tests/test_b.py::test_param[1-2]"): matches no collected test; fix the test id or pattern, or remove the entry`, err.Error())
	assert.NoError(t, l.Unmatched([]string{"tests/test_a.py::test_fails", "tests/test_b.py::test_param[1-2]", "tests/test_c.py::t"}))
	var nilList *List
	assert.NoError(t, nilList.Unmatched(nil))
}

func TestUnmatchedLine(t *testing.T) {
	l, err := Parse([]byte(good), "q.yaml")
	require.NoError(t, err)
	assert.Equal(t, `q.yaml: 1 of 3 entries match no test of this selection (entry 2 (test "tests/test_b.py::test_param[1-2]")); they apply to runs that collect their tests`,
		l.UnmatchedLine([]string{"tests/test_a.py::test_fails", "tests/test_c.py::test_x"}))
	assert.Empty(t, l.UnmatchedLine([]string{"tests/test_a.py::test_fails", "tests/test_b.py::test_param[1-2]", "tests/test_c.py::t"}))

	var many strings.Builder
	many.WriteString("quarantine:\n")
	for i := range 5 {
		fmt.Fprintf(&many, "- {test: 't.py::x%d', until: 2026-12-31, reason: r}\n", i)
	}
	l, err = Parse([]byte(many.String()), "q.yaml")
	require.NoError(t, err)
	assert.Equal(t, `q.yaml: 4 of 5 entries match no test of this selection (entry 2 (test "t.py::x1"), entry 3 (test "t.py::x2"), entry 4 (test "t.py::x3"), …); they apply to runs that collect their tests`,
		l.UnmatchedLine([]string{"t.py::x0"}), "a few named, the rest elided")
	var nilList *List
	assert.Empty(t, nilList.UnmatchedLine(nil))
}
