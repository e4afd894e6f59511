package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faketimeOf maps each unit to the Faketime values of its cases.
func faketimeOf(cases []Case, units []Unit) [][]string {
	byID := map[string]string{}
	for _, c := range cases {
		byID[c.ID] = c.Faketime
	}
	var out [][]string
	for _, u := range units {
		var vs []string
		for _, id := range u.Cases {
			vs = append(vs, byID[id])
		}
		out = append(out, vs)
	}
	return out
}

// requireOneValuePerUnit checks that no unit mixes Faketime values and
// every case is in exactly one unit.
func requireOneValuePerUnit(t *testing.T, cases []Case, units []Unit) {
	t.Helper()
	seen := map[string]int{}
	for _, u := range units {
		for _, id := range u.Cases {
			seen[id]++
		}
	}
	for _, c := range cases {
		require.Equal(t, 1, seen[c.ID], "case %s in one unit", c.TestID)
	}
	for i, vs := range faketimeOf(cases, units) {
		for _, v := range vs {
			require.Equal(t, vs[0], v, "unit %s mixes faketime values %q", units[i].ID, vs)
		}
	}
}

func faketimeCases() []Case {
	cs := mkCases("a.py::T::t1", "a.py::T::t2", "a.py::T::t3", "a.py::t4", "b.py::t5", "b.py::t6", "c.py::t7", "c.py::t8")
	cs[1].Faketime = "2031-06-01 12:00:00"
	cs[2].Faketime = "2031-06-01 12:00:00"
	cs[5].Faketime = "-2h"
	return cs
}

func TestGroupByFileOrClassSplitsByFaketime(t *testing.T) {
	cs := faketimeCases()
	for _, per := range []string{PerFile, PerClass} {
		units := Group(cs, Grouping{PodPer: per})
		requireOneValuePerUnit(t, cs, units)
	}
	byFile := Group(cs, Grouping{PodPer: PerFile})
	// a.py: {t1,t4} and {t2,t3}; b.py: {t5} and {t6}; c.py: {t7,t8}.
	assert.Len(t, byFile, 5)
	var together bool
	for _, u := range byFile {
		ids := testIDs(cs, u)
		if len(ids) == 2 && ids[0] == "a.py::T::t2" && ids[1] == "a.py::T::t3" {
			together = true
		}
	}
	assert.True(t, together, "tests of one file with the same faketime share a pod: %v", byFile)
}

func TestGroupPerTestKeepsOnePodPerTest(t *testing.T) {
	cs := faketimeCases()
	units := Group(cs, Grouping{})
	require.Len(t, units, len(cs))
	requireOneValuePerUnit(t, cs, units)
}

func TestShardsGiveEachOtherFaketimeItsOwnUnit(t *testing.T) {
	cs := faketimeCases()
	units := Group(cs, Grouping{Shards: 2})
	requireOneValuePerUnit(t, cs, units)
	// 5 cases of the common value in 2 shards, one unit for the 2031
	// cases and one for -2h.
	require.Len(t, units, 4)
	count := map[string]int{}
	for _, vs := range faketimeOf(cs, units) {
		count[vs[0]] += len(vs)
	}
	assert.Equal(t, map[string]int{"": 5, "2031-06-01 12:00:00": 2, "-2h": 1}, count)
}

func TestShardsWithOneFaketimeForAllAreUnchanged(t *testing.T) {
	cs := mkCases("a.py::t1", "a.py::t2", "b.py::t3", "b.py::t4")
	plain := Group(cs, Grouping{Shards: 2})
	for i := range cs {
		cs[i].Faketime = "+3d"
	}
	assert.Equal(t, plain, Group(cs, Grouping{Shards: 2}))
}
