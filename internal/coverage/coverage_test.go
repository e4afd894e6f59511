package coverage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunArgs(t *testing.T) {
	assert.Equal(t, []string{"python", "-m", "coverage", "run", "--parallel-mode", "--include=/workspace/*", "-m", "pytest"}, RunArgs("python", "/workspace/"))
}

func TestRcfileKeepsToTheWorkspace(t *testing.T) {
	rc := Rcfile("/workspace/", nil)
	assert.Equal(t, "[report]\nignore_errors = True\ninclude =\n    /workspace/*\n", rc)
}

// TestRcfileKeepsTheProjectsSettings: the project's .coveragerc reaches
// the report, but its [paths], its [report] include and ignore_errors and
// its [run] plugins do not: the report keeps to the project's files, and
// no plugin (the project's code) is loaded to combine.
func TestRcfileKeepsTheProjectsSettings(t *testing.T) {
	user := "[run]\nbranch = True\nplugins =\n    evil_plugin\nsource = .\n\n[report]\nexclude_lines =\n    pragma: no cover\n    if __name__ == .__main__.:\ninclude =\n    /etc/*\n    /root/*\nignore_errors: False\nprecision = 2\n\n[paths]\nsource =\n    src/\n    /elsewhere\n"
	assert.Equal(t, "[run]\nbranch = True\nsource = .\n\n[report]\nexclude_lines =\n    pragma: no cover\n    if __name__ == .__main__.:\nprecision = 2\n\n"+
		"ignore_errors = True\ninclude =\n    /workspace/*\n",
		Rcfile("/workspace", []byte(user)))

	// [report] last, and no [report] at all.
	assert.Equal(t, "[report]\nomit = x.py\nignore_errors = True\ninclude =\n    /workspace/*\n",
		Rcfile("/workspace", []byte("[report]\nomit = x.py")))
	// Section names keep their case, as coverage.py reads them.
	assert.Equal(t, "[Report]\ninclude = x.py\n\n[report]\nignore_errors = True\ninclude =\n    /workspace/*\n",
		Rcfile("/workspace", []byte("[Report]\ninclude = x.py")))
	assert.Equal(t, "[run]\nbranch = True\n\n[report]\nignore_errors = True\ninclude =\n    /workspace/*\n",
		Rcfile("/workspace", []byte("[run]\r\nbranch = True\r\nPlugins: x")))
}

const report = `<?xml version="1.0" ?>
<coverage version="6.5.0" line-rate="0.75" lines-valid="8" lines-covered="6">
  <packages>
    <package name="." line-rate="0.75">
      <classes>
        <class name="calc.py" filename="calc.py" line-rate="0.5">
          <lines><line number="1" hits="1"/><line number="2" hits="0"/><line number="4" hits="1"/><line number="5" hits="0"/></lines>
        </class>
        <class name="test_calc.py" filename="test_calc.py" line-rate="1">
          <lines><line number="3" hits="1"/><line number="1" hits="2"/></lines>
        </class>
        <class name="z.py" filename="z.py" line-rate="1">
          <lines><line number="1" hits="1"/><line number="2" hits="1"/></lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>`

func TestParseReport(t *testing.T) {
	s, err := ParseReport(strings.NewReader(report))
	require.NoError(t, err)
	assert.Equal(t, 8, s.Lines)
	assert.Equal(t, 6, s.Covered)
	assert.Equal(t, "75.0%", s.Total())
	require.Len(t, s.Files, 3)
	assert.Equal(t, File{Name: "calc.py", Lines: 4, Covered: 2, Executed: []int{1, 4}}, s.Files[0])
	assert.Equal(t, []int{1, 3}, s.Files[1].Executed)

	least := s.Least(2)
	require.Len(t, least, 2)
	assert.Equal(t, "calc.py", least[0].Name)
	assert.Equal(t, "test_calc.py", least[1].Name, "ties go by name")

	_, err = ParseReport(strings.NewReader("<coverage><packages>"))
	assert.Error(t, err)
}

func TestTotalNeverRoundsUpToFull(t *testing.T) {
	assert.Equal(t, "99.9%", Summary{Lines: 10000, Covered: 9999}.Total())
	assert.Equal(t, "100.0%", Summary{Lines: 3, Covered: 3}.Total())
	assert.Equal(t, "100.0%", Summary{}.Total())
	assert.Equal(t, "33.3%", Summary{Lines: 3, Covered: 1}.Total())
}

func filesByName(s Summary) map[string]File {
	m := map[string]File{}
	for _, f := range s.Files {
		m[f.Name] = f
	}
	return m
}

// TestReadProjectRcfileStaysInTheProject: a .coveragerc that links to a
// file outside the project (the checkout's git config, with its token) is
// never read, so it never reaches the coverage pod's image.
func TestReadProjectRcfileStaysInTheProject(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(outside, []byte("[http]\nextraheader = AUTHORIZATION: basic c2VjcmV0\n"), 0o600))
	project := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(project, ProjectRcfile)))
	got, err := ReadProjectRcfile(project)
	require.Error(t, err)
	assert.Empty(t, got)
	assert.NotContains(t, err.Error(), "c2VjcmV0")

	require.NoError(t, os.Remove(filepath.Join(project, ProjectRcfile)))
	got, err = ReadProjectRcfile(project)
	require.NoError(t, err, "no .coveragerc is no configuration")
	assert.Empty(t, got)

	require.NoError(t, os.WriteFile(filepath.Join(project, ProjectRcfile), []byte("[report]\nprecision = 2\n"), 0o644))
	got, err = ReadProjectRcfile(project)
	require.NoError(t, err)
	assert.Equal(t, "[report]\nprecision = 2\n", string(got))
}
