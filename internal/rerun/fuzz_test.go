package rerun

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzRead feeds Read the reports --rerun-failed is given, which come from
// an earlier run or from anyone's pytest: whatever it reads, it does not
// panic, a report it accepts counts each failed test once among its
// testcases, and what Match makes of it are discovered ids only.
func FuzzRead(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"testdata/*.xml", "../junit/testdata/*.xml"} {
		found, err := filepath.Glob(pattern)
		require.NoError(f, err)
		seeds = append(seeds, found...)
	}
	require.NotEmpty(f, seeds)
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`<testsuite><testcase classname="c" name="n"><properties><property name="test_id" value="tests/test_a.py::test_x"/></properties><failure/></testcase></testsuite>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Read(bytes.NewReader(data))
		if err != nil {
			assert.Nil(t, rep)
			var fe *FileError
			assert.ErrorAs(t, err, &fe)
			return
		}
		require.NotNil(t, rep)
		assert.LessOrEqual(t, len(rep.Failed), rep.Tests, "each failed test is a testcase read")
		seen := map[Test]bool{}
		for _, ft := range rep.Failed {
			assert.False(t, seen[ft], "%v listed twice", ft)
			seen[ft] = true
		}
		sel := Match(rep.Failed, sampleIDs)
		ids := map[string]bool{}
		for _, id := range sel.IDs {
			assert.Contains(t, sampleIDs, id)
			assert.False(t, ids[id], "%s selected twice", id)
			ids[id] = true
		}
		for _, m := range sel.Missing {
			assert.True(t, slices.Contains(rep.Failed, m), "missing %v is a failed test of the report", m)
		}
	})
}
