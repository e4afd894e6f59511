package history

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordsPackAndUnpack(t *testing.T) {
	a, b := rec(1, "main", pass("t::a", 0)), rec(2, "main", fail("t::a"))
	b.Footprints = map[string]map[string]string{"t::a": {"pkg/a.py": "abc"}}
	data, dropped, err := Pack(Records{a, b}, 1<<20)
	require.NoError(t, err)
	assert.Empty(t, dropped)
	assert.Len(t, data, 2)
	got, err := Unpack(data)
	require.NoError(t, err)
	r, ok := got.Resolve("main", "")
	require.True(t, ok, "a branch names its newest record")
	assert.Equal(t, b.Commit, r.Commit)
	assert.Equal(t, "abc", r.Footprints["t::a"]["pkg/a.py"])
	r, ok = got.Resolve("main", b.Commit)
	require.True(t, ok)
	assert.Equal(t, a.Commit, r.Commit, "this run's own commit is never its branch's base")
	r, ok = got.Resolve(a.Commit[:7], "")
	require.True(t, ok, "a commit's prefix")
	assert.Equal(t, a.Commit, r.Commit)
	_, ok = got.Resolve("other", "")
	assert.False(t, ok)

	c := rec(2, "main", pass("t::a", 0))
	assert.Len(t, got.With(c), 2, "a commit's new record replaces its old one")
	r, _ = got.With(c).Resolve(c.Commit, "")
	assert.Equal(t, VerdictPassed, r.Tests["t::a"].Verdict)
}

// A ConfigMap holds 1 MiB: the oldest records go first, and a record too
// large alone keeps its verdicts without its footprints.
func TestRecordsPackPrunesToTheBudget(t *testing.T) {
	var rs Records
	for i := range MaxCommits + 5 {
		rs = append(rs, rec(i, "main", pass("t::a", 0)))
	}
	data, dropped, err := Pack(rs, 1<<20)
	require.NoError(t, err)
	assert.Len(t, data, MaxCommits, "at most MaxCommits")
	assert.Len(t, dropped, 5)
	assert.NotContains(t, data, sha(0)+PackedSuffix, "the oldest went first")
	assert.Contains(t, data, sha(MaxCommits+4)+PackedSuffix)

	big := rec(100, "main", pass("t::a", 0))
	big.Footprints = map[string]map[string]string{}
	for i := range 2000 {
		big.Footprints[fmt.Sprintf("t::%d", i)] = map[string]string{fmt.Sprintf("pkg/%d.py", i): sha(i)}
	}
	one, err := gzipJSON(rs[0])
	require.NoError(t, err)
	budget := 3 * len(one)
	data, dropped, err = Pack(Records{rs[0], rs[1], big}, budget)
	require.NoError(t, err)
	total := 0
	for _, v := range data {
		total += len(v)
	}
	assert.LessOrEqual(t, total, budget)
	assert.Contains(t, dropped, big.Commit+" (footprints)")
	got, err := Unpack(data)
	require.NoError(t, err)
	r, ok := got.Resolve(big.Commit, "")
	require.True(t, ok, "the newest record stays, without its footprints")
	assert.Empty(t, r.Footprints)
	assert.Equal(t, VerdictPassed, r.Tests["t::a"].Verdict)
}

func TestRecordsUnpackRefusesWhatItCannotRead(t *testing.T) {
	future := rec(1, "main")
	future.Format = StoreFormat + 1
	gz, err := gzipJSON(future)
	require.NoError(t, err)
	_, err = Unpack(map[string][]byte{future.Commit + PackedSuffix: gz})
	var fe *FormatError
	require.ErrorAs(t, err, &fe, "a newer version's record")
	assert.Contains(t, err.Error(), "newer than this k8s-testrun reads")

	_, err = Unpack(map[string][]byte{sha(2) + PackedSuffix: []byte("not gzip")})
	require.Error(t, err)

	bomb, err := gzipJSON(rec(3, strings.Repeat("b", MaxRecordBytes)))
	require.NoError(t, err)
	_, err = Unpack(map[string][]byte{sha(3) + PackedSuffix: bomb})
	require.ErrorContains(t, err, "once inflated", "a small object does not inflate without bound")

	// Records each under the bound can still not inflate past the store's.
	defer func(b int) { unpackBudget = b }(unpackBudget)
	unpackBudget = 4 << 20
	many := map[string][]byte{}
	for i := range 5 {
		r := rec(10+i, strings.Repeat("b", 1<<20))
		gz, err := gzipJSON(r)
		require.NoError(t, err)
		many[r.Commit+PackedSuffix] = gz
	}
	_, err = Unpack(many)
	require.ErrorContains(t, err, "once inflated in all", "the records together are bounded too")

	other, err := gzipJSON(rec(4, "main"))
	require.NoError(t, err)
	_, err = Unpack(map[string][]byte{sha(5) + PackedSuffix: other})
	require.ErrorContains(t, err, "does not match its key")

	got, err := Unpack(map[string][]byte{"notes.txt": []byte("x")})
	require.NoError(t, err)
	assert.Empty(t, got, "keys of other names are left alone")
}
