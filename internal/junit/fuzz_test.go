package junit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse: Parse never panics, and what it reads, Write writes as a
// document Parse reads again with the same testcases.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`<testsuite><testcase name="a" line="-3" time="NaN"><failure message="&#0;"/></testcase></testsuite>`))
	f.Add([]byte(`<testsuites><testsuite><testcase><properties><property name="x" value="y"/></properties></testcase></testsuite></testsuites>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		require.NoError(t, Write(&out, ts))
		back, err := Parse(&out)
		require.NoError(t, err, "Write's output must parse:\n%s", out.String())
		n, m := 0, 0
		for _, s := range ts.Suites {
			n += len(s.Testcases)
		}
		for _, s := range back.Suites {
			m += len(s.Testcases)
		}
		require.Equal(t, n, m)
	})
}
