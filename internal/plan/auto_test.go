package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAutoThreshold(t *testing.T) {
	assert.Equal(t, 27*time.Second, AutoThreshold(0), "no measured figure: the default overhead")
	assert.Equal(t, 27*time.Second, AutoThreshold(DefaultPodOverhead))
	assert.Equal(t, 9*time.Second, AutoThreshold(time.Second), "a pod of 9 s tests plus 1 s overhead spends 10% on it")
}

func TestAutoWithoutHistoryGroupsByFile(t *testing.T) {
	cs := mkCases("a.py::t1", "a.py::t2", "b.py::t1", "c.py::t1")
	g := Grouping{PodPer: PerAuto, Slots: 4, Durations: map[string]time.Duration{"other.py::t": time.Minute}}
	units := Group(cs, g)
	assert.Equal(t, Group(cs, Grouping{PodPer: PerFile}), units)
	assert.Equal(t, "pod per auto: no timing history for these tests, so one pod per file (3 pods)", DescribeAuto(cs, g, units, false))
}

func TestAutoGivesSlowTestsAPodEach(t *testing.T) {
	cs := mkCases("a.py::slow", "a.py::t1", "a.py::t2", "b.py::t1", "b.py::slower")
	hist := map[string]time.Duration{
		"a.py::slow": 30 * time.Second, "b.py::slower": 40 * time.Second,
		"a.py::t1": time.Second, "a.py::t2": time.Second, "b.py::t1": time.Second,
	}
	g := Grouping{PodPer: PerAuto, Slots: 2, Durations: hist}
	units := Group(cs, g)
	require.Len(t, units, 3)
	assert.Equal(t, Unit{ID: cs[4].ID, Cases: []string{cs[4].ID}}, units[0], "longest first")
	assert.Equal(t, Unit{ID: cs[0].ID, Cases: []string{cs[0].ID}}, units[1])
	assert.Equal(t, []string{"a.py::t1", "a.py::t2", "b.py::t1"}, testIDs(cs, units[2]), "the rest share one pod: two slots are taken by the slow tests")
	assert.Equal(t, "pod per auto: tests expected over 27s get a pod each (pod overhead 3s, default, the history holds no measured figure; at most 10% of pod time), 2 such; 3 pods in all for 2 slots",
		DescribeAuto(cs, g, units, false))

	g.Overhead = 5 * time.Second
	units = Group(cs, g)
	require.Len(t, units, 2, "a measured overhead of 5 s raises the threshold to 45 s: no test is alone")
	assert.Contains(t, DescribeAuto(cs, g, units, true), "over 45s get a pod each (pod overhead 5s, measured;")
	g.Overhead = 2 * time.Second
	units = Group(cs, g)
	assert.Len(t, units, 3, "18 s threshold")
}

func TestAutoPacksFilesIntoUnitsForEverySlot(t *testing.T) {
	// 12 files of 5 tests of 1 s: 60 s in all, threshold 27 s.
	var ids []string
	hist := map[string]time.Duration{}
	for f := range 12 {
		for i := range 5 {
			id := fmt.Sprintf("f%02d.py::t%d", f, i)
			ids = append(ids, id)
			hist[id] = time.Second
		}
	}
	cs := mkCases(ids...)
	for _, tc := range []struct {
		slots, units int
	}{
		{1, 2},   // overhead alone: 60 s / 27 s
		{4, 4},   // one unit per slot
		{6, 6},   // ditto
		{12, 12}, // one file each
		{30, 30}, // every file is above the fair share (2 s): cut
	} {
		t.Run(fmt.Sprint("slots", tc.slots), func(t *testing.T) {
			units := Group(cs, Grouping{PodPer: PerAuto, Slots: tc.slots, Durations: hist})
			require.Len(t, units, tc.units)
			seen := map[string]bool{}
			for _, u := range units {
				files := map[string]int{}
				for _, id := range testIDs(cs, u) {
					files[fileOf(id)]++
					assert.False(t, seen[id], "%s in two units", id)
					seen[id] = true
				}
				for f, n := range files {
					if tc.slots <= 12 {
						assert.Equal(t, 5, n, "file %s is whole in its unit", f)
					}
				}
				assert.LessOrEqual(t, len(u.Cases), (60/tc.units+4)/5*5, "balanced")
			}
			assert.Len(t, seen, len(cs))
		})
	}
}

func TestAutoCutsAFileLargerThanASlotsShare(t *testing.T) {
	// One file of 20 tests of 2 s (40 s) and two of 1 s: with 4 slots the
	// fair share is 10.5 s, so the big file is cut into 4 runs of 10 s.
	var ids []string
	hist := map[string]time.Duration{"b.py::t": time.Second, "c.py::t": time.Second}
	for i := range 20 {
		id := fmt.Sprintf("big.py::t%02d", i)
		ids = append(ids, id)
		hist[id] = 2 * time.Second
	}
	ids = append(ids, "b.py::t", "c.py::t")
	cs := mkCases(ids...)
	units := Group(cs, Grouping{PodPer: PerAuto, Slots: 4, Durations: hist})
	require.Len(t, units, 4)
	var n int
	for _, u := range units {
		got := testIDs(cs, u)
		n += len(got)
		assert.LessOrEqual(t, len(got), 6)
		for i := 1; i < len(got); i++ {
			if fileOf(got[i]) == "big.py" && fileOf(got[i-1]) == "big.py" {
				assert.Less(t, got[i-1], got[i], "a cut file keeps its order")
			}
		}
	}
	assert.Equal(t, len(cs), n)
}

func TestAutoKeepsLanesAndFaketime(t *testing.T) {
	cs := mkCases("a.py::t1", "a.py::t2", "a.py::ser", "a.py::slowlane", "a.py::fake", "a.py::long")
	cs[2].Lane = LaneSerial
	cs[3].Lane = LaneSlow
	cs[4].Faketime = "@2020-01-01 00:00:00"
	hist := map[string]time.Duration{}
	for _, c := range cs {
		hist[c.TestID] = time.Second
	}
	hist["a.py::long"] = time.Minute
	units := Group(cs, Grouping{PodPer: PerAuto, Slots: 1, Durations: hist})
	var got [][]string
	for _, u := range units {
		got = append(got, testIDs(cs, u))
	}
	assert.Equal(t, [][]string{{"a.py::slowlane"}, {"a.py::long"}, {"a.py::t1", "a.py::t2"}, {"a.py::fake"}, {"a.py::ser"}}, got,
		"slow lane first, serial alone and last, faketime apart, the long test alone")
	for _, u := range units {
		if len(u.Cases) > 1 {
			assert.Regexp(t, `^u[0-9a-f]{11}$`, u.ID)
		}
	}
}

func TestAutoShardsOverride(t *testing.T) {
	cs := mkCases("a.py::t1", "b.py::t1", "c.py::t1")
	hist := map[string]time.Duration{"a.py::t1": time.Second}
	assert.Equal(t, Group(cs, Grouping{Shards: 2, Durations: hist}), Group(cs, Grouping{PodPer: PerAuto, Shards: 2, Durations: hist}))
}
