package coverage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunArgs(t *testing.T) {
	assert.Equal(t, []string{"python", "-m", "coverage", "run", "--parallel-mode", "--include=/workspace/*", "-m", "pytest"}, RunArgs("python", "/workspace/"))
}

func TestRcfileMapsTheWorkspaceToTheProject(t *testing.T) {
	rc := Rcfile("/workspace/", "/home/me/proj/", nil)
	assert.Equal(t, "[report]\nignore_errors = True\ninclude =\n    /home/me/proj/*\n\n[paths]\nsource =\n    /home/me/proj\n    /workspace\n", rc)
}

// TestRcfileKeepsTheProjectsSettings: the project's .coveragerc reaches
// the report, but its [paths] and its [report] include and ignore_errors
// are ours, so that the mapping holds and nothing outside the project is
// read.
func TestRcfileKeepsTheProjectsSettings(t *testing.T) {
	user := "[run]\nbranch = True\n\n[report]\nexclude_lines =\n    pragma: no cover\n    if __name__ == .__main__.:\ninclude =\n    /etc/*\n    /root/*\nignore_errors: False\nprecision = 2\n\n[paths]\nsource =\n    src/\n    /elsewhere\n"
	assert.Equal(t, "[run]\nbranch = True\n\n[report]\nexclude_lines =\n    pragma: no cover\n    if __name__ == .__main__.:\nprecision = 2\n\n"+
		"ignore_errors = True\ninclude =\n    /p/*\n\n[paths]\nsource =\n    /p\n    /workspace\n",
		Rcfile("/workspace", "/p", []byte(user)))

	// [report] last, and no [report] at all.
	assert.Equal(t, "[report]\nomit = x.py\nignore_errors = True\ninclude =\n    /p/*\n\n[paths]\nsource =\n    /p\n    /workspace\n",
		Rcfile("/workspace", "/p", []byte("[report]\nomit = x.py")))
	// Section names keep their case, as coverage.py reads them.
	assert.Equal(t, "[Report]\ninclude = x.py\n\n[report]\nignore_errors = True\ninclude =\n    /p/*\n\n[paths]\nsource =\n    /p\n    /workspace\n",
		Rcfile("/workspace", "/p", []byte("[Report]\ninclude = x.py")))
	assert.Equal(t, "[run]\nbranch = True\n\n[report]\nignore_errors = True\ninclude =\n    /p/*\n\n[paths]\nsource =\n    /p\n    /workspace\n",
		Rcfile("/workspace", "/p", []byte("[run]\r\nbranch = True")))
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

func TestFindHostWithoutCoverage(t *testing.T) {
	_, err := findHost(context.Background(), [][]string{{"/nonexistent/python3", "-m", "coverage"}, {"true"}}, nil)
	require.ErrorIs(t, err, ErrNoHostCoverage)
	assert.Contains(t, err.Error(), "coverage.py is not installed on this machine")
	assert.Contains(t, err.Error(), "apt-get install python3-coverage")
}

// TestCombineMapsPodPaths measures a module in one directory, as a pod
// measures /workspace, and combines the data for a copy of it elsewhere,
// as the project on the host: the report names the project's file,
// relative to it, and nothing outside the project.
func TestCombineMapsPodPaths(t *testing.T) {
	tool, err := FindHost(context.Background(), os.Environ())
	if err != nil {
		t.Skip("coverage.py is not installed on this machine: apt-get install python3-coverage")
	}
	pod, project, data := t.TempDir(), t.TempDir(), t.TempDir()
	mod := "def one():\n    return 1\n\n\ndef two():\n    return 2\n"
	main := "import mod\nmod.one()\n"
	for _, dir := range []string{pod, project} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "mod.py"), []byte(mod), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.py"), []byte(main), 0o644))
	}
	// Two processes, as two pods: one calls one(), the other two().
	require.NoError(t, os.WriteFile(filepath.Join(pod, "other.py"), []byte("import mod\nmod.two()\n"), 0o644))
	for _, script := range []string{"main.py", "other.py"} {
		cmd := exec.Command(tool.Command[0], append(tool.Command[1:], "run", "--parallel-mode", script)...)
		cmd.Dir = pod
		cmd.Env = append(os.Environ(), DataFileEnv+"="+filepath.Join(data, DataPrefix))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	reportPath := filepath.Join(t.TempDir(), "out", ReportFile)
	s, err := Combine(context.Background(), tool, data, pod, project, reportPath)
	require.NoError(t, err)
	assert.Equal(t, reportPath, s.Report)
	names := map[string]File{}
	for _, f := range s.Files {
		names[f.Name] = f
	}
	require.Contains(t, names, "mod.py", "files: %v", s.Files)
	assert.Equal(t, names["mod.py"].Lines, names["mod.py"].Covered, "both functions ran, in different processes")
	assert.Equal(t, []int{1, 2, 5, 6}, names["mod.py"].Executed)
	assert.NotContains(t, names, "other.py", "a file missing from the project is not reported")
	xml, err := os.ReadFile(reportPath)
	require.NoError(t, err)
	assert.NotContains(t, string(xml), pod, "no pod path is left in the report")
}

func TestCombineWithoutData(t *testing.T) {
	_, err := Combine(context.Background(), Tool{Command: []string{"false"}}, t.TempDir(), "/workspace", t.TempDir(), filepath.Join(t.TempDir(), ReportFile))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no pod shipped a coverage data file")
}

// TestCombineEqualsAPlainRun: with the project's .coveragerc (an excluded
// function, [paths] and [report] include of its own), combining two
// processes' data measured elsewhere gives the same files and lines as one
// plain `coverage run` of both in the project.
func TestCombineEqualsAPlainRun(t *testing.T) {
	tool, err := FindHost(context.Background(), os.Environ())
	if err != nil {
		t.Skip("coverage.py is not installed on this machine: apt-get install python3-coverage")
	}
	pod, project, data := t.TempDir(), t.TempDir(), t.TempDir()
	files := map[string]string{
		ProjectRcfile: "[report]\nexclude_lines =\n    pragma: no cover\ninclude =\n    /nowhere/*\n\n[paths]\nsource =\n    /nowhere\n    /elsewhere\n",
		"mod.py":      "def one():\n    return 1\n\n\ndef two():\n    return 2\n\n\ndef never():  # pragma: no cover\n    return 3\n",
		"main.py":     "import sys\nimport mod\nif sys.argv[1] == 'one':\n    mod.one()\nelse:\n    mod.two()\n",
	}
	for _, dir := range []string{pod, project} {
		for name, text := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
		}
	}
	coverageIn := func(dir, dataFile string, args ...string) {
		t.Helper()
		cmd := exec.Command(tool.Command[0], append(tool.Command[1:], args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), DataFileEnv+"="+dataFile)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	for _, arg := range []string{"one", "two"} {
		coverageIn(pod, filepath.Join(data, DataPrefix), "run", "--parallel-mode", "--include="+pod+"/*", "main.py", arg)
	}
	ours, err := Combine(context.Background(), tool, data, pod, project, filepath.Join(t.TempDir(), ReportFile))
	require.NoError(t, err)

	plainData := filepath.Join(t.TempDir(), DataPrefix)
	coverageIn(project, plainData, "run", "main.py", "one")
	coverageIn(project, plainData, "run", "--append", "main.py", "two")
	plainXML := filepath.Join(t.TempDir(), ReportFile)
	// The project's own include would leave nothing; plain coverage of
	// the project as it lives in the project directory drops it.
	require.NoError(t, os.WriteFile(filepath.Join(project, ProjectRcfile), []byte("[report]\nexclude_lines =\n    pragma: no cover\n"), 0o644))
	coverageIn(project, plainData, "xml", "-o", plainXML)
	f, err := os.Open(plainXML)
	require.NoError(t, err)
	defer f.Close()
	plain, err := ParseReport(f)
	require.NoError(t, err)

	var want []File
	for _, f := range plain.Files {
		if !filepath.IsAbs(f.Name) { // plain coverage.py also measures site packages
			want = append(want, f)
		}
	}
	require.Len(t, want, 2)
	assert.Equal(t, want, ours.Files)
	mod := filesByName(ours)["mod.py"]
	assert.Equal(t, 4, mod.Lines, "never() is excluded, as the project says")
	assert.Equal(t, mod.Lines, mod.Covered)
}

func filesByName(s Summary) map[string]File {
	m := map[string]File{}
	for _, f := range s.Files {
		m[f.Name] = f
	}
	return m
}
