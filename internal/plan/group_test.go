package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mkCases(ids ...string) []Case {
	out := make([]Case, len(ids))
	for i, id := range ids {
		out[i] = Case{ID: fmt.Sprintf("c%d", i), TestID: id}
	}
	return out
}

func testIDs(cases []Case, u Unit) []string {
	byID := map[string]string{}
	for _, c := range cases {
		byID[c.ID] = c.TestID
	}
	var out []string
	for _, id := range u.Cases {
		out = append(out, byID[id])
	}
	return out
}

func TestGroupByFileAndClass(t *testing.T) {
	cs := mkCases("a.py::t1", "a.py::T::t2", "a.py::T::t3[x::y]", "b.py::t1", "a.py::U::t4", "b.py::V::W::t5")
	byFile := Group(cs, Grouping{PodPer: PerFile})
	require.Len(t, byFile, 2)
	assert.Equal(t, []string{"a.py::t1", "a.py::T::t2", "a.py::T::t3[x::y]", "a.py::U::t4"}, testIDs(cs, byFile[0]), "the larger file starts first")
	assert.Equal(t, []string{"b.py::t1", "b.py::V::W::t5"}, testIDs(cs, byFile[1]))

	byClass := Group(cs, Grouping{PodPer: PerClass})
	var got [][]string
	for _, u := range byClass {
		got = append(got, testIDs(cs, u))
		assert.Regexp(t, `^u[0-9a-f]{11}$`, u.ID)
	}
	assert.ElementsMatch(t, [][]string{
		{"a.py::t1"}, {"a.py::T::t2", "a.py::T::t3[x::y]"}, {"b.py::t1"}, {"a.py::U::t4"}, {"b.py::V::W::t5"},
	}, got, "a parameter holding :: stays in its class")

	perTest := Group(cs, Grouping{PodPer: PerTest})
	require.Len(t, perTest, len(cs))
	for i, u := range perTest {
		assert.Equal(t, Unit{ID: cs[i].ID, Cases: []string{cs[i].ID}}, u, "no history keeps the collection order")
	}
}

func TestGroupStartsTheSlowestFirst(t *testing.T) {
	cs := mkCases("a.py::fast", "a.py::slow", "b.py::mid", "c.py::new")
	hist := map[string]time.Duration{"a.py::fast": time.Second, "a.py::slow": 9 * time.Second, "b.py::mid": 5 * time.Second}
	var order []string
	for _, u := range Group(cs, Grouping{Durations: hist}) {
		order = append(order, testIDs(cs, u)...)
	}
	assert.Equal(t, []string{"a.py::slow", "b.py::mid", "c.py::new", "a.py::fast"}, order, "a test with no history counts as the mean (5s)")

	var files [][]string
	for _, u := range Group(cs, Grouping{PodPer: PerFile, Durations: hist}) {
		files = append(files, testIDs(cs, u))
	}
	assert.Equal(t, [][]string{{"a.py::fast", "a.py::slow"}, {"b.py::mid"}, {"c.py::new"}}, files)
}

// makespan is the longest shard's total.
func makespan(cs []Case, units []Unit, d map[string]time.Duration) time.Duration {
	var worst time.Duration
	for _, u := range units {
		var sum time.Duration
		for _, id := range testIDs(cs, u) {
			sum += d[id]
		}
		worst = max(worst, sum)
	}
	return worst
}

func TestShardsBalanceByHistory(t *testing.T) {
	// Ten tests of 1..10 s in 3 shards: 55 s in all, and the optimum is
	// 19 s (10+9, 8+7+4, 6+5+3+2+1 or the like); longest processing time
	// first reaches it on this set.
	var ids []string
	d := map[string]time.Duration{}
	for i := 1; i <= 10; i++ {
		id := fmt.Sprintf("t.py::t%02d", i)
		ids = append(ids, id)
		d[id] = time.Duration(i) * time.Second
	}
	cs := mkCases(ids...)
	units := Group(cs, Grouping{Shards: 3, Durations: d})
	require.Len(t, units, 3)
	assert.Equal(t, 19*time.Second, makespan(cs, units, d))
	seen := map[string]bool{}
	for _, u := range units {
		got := testIDs(cs, u)
		for i := 1; i < len(got); i++ {
			assert.Less(t, got[i-1], got[i], "a shard keeps the collection order")
		}
		for _, id := range u.Cases {
			assert.False(t, seen[id], "a case is in one shard")
			seen[id] = true
		}
	}
	assert.Len(t, seen, 10)

	// Without history the same set splits 4/3/3 by count, and the history
	// changes the split.
	blind := Group(cs, Grouping{Shards: 3})
	var sizes []int
	for _, u := range blind {
		sizes = append(sizes, len(u.Cases))
	}
	assert.ElementsMatch(t, []int{4, 3, 3}, sizes)
	assert.Greater(t, makespan(cs, blind, d), makespan(cs, units, d))
}

func TestShardsOfFewCases(t *testing.T) {
	cs := mkCases("t.py::a", "t.py::b")
	units := Group(cs, Grouping{Shards: 4})
	assert.Len(t, units, 2, "no empty shard")
}

func TestGroupBasesNeverMixesBases(t *testing.T) {
	ids := []string{"a.py::t1", "a.py::t2", "b.py::t1"}
	var cases []Case
	for b := range 2 {
		for i, id := range ids {
			cases = append(cases, Case{ID: fmt.Sprintf("b%dc%d", b, i), TestID: id, Base: b})
		}
	}
	baseOf := map[string]int{}
	for _, c := range cases {
		baseOf[c.ID] = c.Base
	}
	for _, g := range []Grouping{{PodPer: PerTest}, {PodPer: PerFile}, {Shards: 2}} {
		units := GroupBases(cases, g)
		seen := map[string]bool{}
		var bases []int
		n := 0
		for _, u := range units {
			require.False(t, seen[u.ID], "%+v: unit %s named twice", g, u.ID)
			seen[u.ID] = true
			b := baseOf[u.Cases[0]]
			for _, c := range u.Cases {
				assert.Equal(t, b, baseOf[c], "%+v: unit %s mixes bases", g, u.ID)
			}
			bases = append(bases, b)
			n += len(u.Cases)
		}
		assert.Equal(t, len(cases), n, "%+v: every case in one unit", g)
		assert.Equal(t, 0, bases[0], "%+v", g)
		assert.Equal(t, 1, bases[1], "%+v: the bases take turns", g)
	}
	// One base: exactly Group.
	one := cases[:3]
	assert.Equal(t, Group(one, Grouping{PodPer: PerFile}), GroupBases(one, Grouping{PodPer: PerFile}))
}
