package coverage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// fakePython is a python that records each call (its arguments, working
// directory and COVERAGE_FILE) and, asked for `coverage xml -o PATH`,
// writes xmlText there.
func fakePython(t *testing.T, xmlText string) (python, calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	python = filepath.Join(dir, "python")
	script := `#!/bin/sh
echo "$PWD|$COVERAGE_FILE|$*" >> '` + calls + `'
if [ "$3" = xml ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = -o ]; then printf '%s' '` + xmlText + `' > "$2"; fi
    shift
  done
fi
if [ "$3" = combine ]; then ls -A "$5" >> '` + calls + `'; fi
`
	require.NoError(t, os.WriteFile(python, []byte(script), 0o755))
	return python, calls
}

func TestCombineRunsCoverageAndPrintsTheReport(t *testing.T) {
	python, calls := fakePython(t, report)
	data, work := t.TempDir(), t.TempDir()
	for _, n := range []string{".coverage.pod-a.x", ".coverage.pod-b.y", "not-data"} {
		require.NoError(t, os.WriteFile(filepath.Join(data, n), []byte("SQLite format 3\x00"), 0o644))
	}
	var stdout, stderr bytes.Buffer
	code, err := Combine(context.Background(), CombineOptions{Python: python, DataDir: data, Rcfile: "/rc", Dir: work}, &stdout, &stderr)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr.String())

	got, err := os.ReadFile(calls)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	// First, the listing of each data file's measured files (footprints).
	require.NotEmpty(t, lines)
	assert.Contains(t, lines[0], "footprints.py "+filepath.Join(filepath.Dir(strings.Split(lines[0], "|")[1]), "data", ".coverage.pod-a.x"))
	lines = lines[1:]
	require.Len(t, lines, 4, "%s", got)
	combine := strings.Split(lines[0], "|")
	scratch := filepath.Dir(combine[1])
	assert.Equal(t, work, combine[0], "coverage.py runs where the project is, so names are relative to it")
	assert.Equal(t, filepath.Join(scratch, DataPrefix), combine[1])
	assert.NotEqual(t, data, scratch, "the data files are combined from a scratch copy")
	assert.Equal(t, "-m coverage combine --rcfile=/rc "+filepath.Join(scratch, "data"), combine[2])
	assert.Equal(t, []string{".coverage.pod-a.x", ".coverage.pod-b.y"}, lines[1:3], "only the data files are copied")
	xml := strings.Split(lines[3], "|")
	assert.Equal(t, "-m coverage xml --rcfile=/rc -o "+filepath.Join(scratch, ReportFile), xml[2])
	assert.NoDirExists(t, scratch, "the scratch directory is removed")

	back, err := ReadReport(stdout.Bytes())
	require.NoError(t, err)
	assert.Equal(t, report, string(back))
}

func TestCombineFailures(t *testing.T) {
	t.Run("no data", func(t *testing.T) {
		python, calls := fakePython(t, report)
		code, err := Combine(context.Background(), CombineOptions{Python: python, DataDir: t.TempDir(), Rcfile: "/rc", Dir: t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
		assert.NotEqual(t, 0, code)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no coverage data file")
		assert.NoFileExists(t, calls)
	})
	t.Run("coverage fails", func(t *testing.T) {
		dir := t.TempDir()
		python := filepath.Join(dir, "python")
		require.NoError(t, os.WriteFile(python, []byte("#!/bin/sh\necho lots of output\necho 'No data to combine' >&2\nexit 1\n"), 0o755))
		data := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(data, ".coverage.x"), nil, 0o644))
		var stdout, stderr bytes.Buffer
		code, err := Combine(context.Background(), CombineOptions{Python: python, DataDir: data, Rcfile: "/rc", Dir: dir}, &stdout, &stderr)
		assert.Equal(t, 1, code)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "coverage combine")
		assert.True(t, strings.HasSuffix(err.Error(), ": No data to combine"), err.Error())
		assert.Contains(t, stderr.String(), "lots of output")
		assert.Empty(t, stdout.String(), "no block")
	})
}

func TestReadReport(t *testing.T) {
	block := func(files ...transport.File) []byte {
		var b bytes.Buffer
		require.NoError(t, transport.Encode(&b, files, -1))
		return b.Bytes()
	}
	got, err := ReadReport(append([]byte("noise\n"), block(transport.File{Name: ReportFile, Data: []byte(report)})...))
	require.NoError(t, err)
	assert.Equal(t, report, string(got))

	_, err = ReadReport([]byte("Traceback...\n"))
	assert.ErrorIs(t, err, transport.ErrNoBlock)

	// A block whose report the cap dropped, and one that decompresses to
	// more than MaxReport: neither is kept.
	_, err = ReadReport(block(transport.File{Name: transport.TruncatedFile, Data: []byte("dropped coverage.xml")}))
	assert.ErrorIs(t, err, ErrReportTooLarge)
	huge := bytes.Repeat([]byte("<line/>"), MaxReport/7+1)
	_, err = ReadReport(block(transport.File{Name: ReportFile, Data: huge}))
	assert.ErrorIs(t, err, ErrReportTooLarge)
}

// TestCombineCapsTheBlock: a report over the block's cap is not printed,
// and ReadReport says so.
func TestCombineCapsTheBlock(t *testing.T) {
	random := make([]byte, 6<<10)
	_, _ = rand.Read(random)
	python, _ := fakePython(t, base64.StdEncoding.EncodeToString(random))
	data := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(data, ".coverage.x"), nil, 0o644))
	var stdout bytes.Buffer
	code, err := Combine(context.Background(), CombineOptions{Python: python, DataDir: data, Rcfile: "/rc", Dir: t.TempDir(), Limit: 1024}, &stdout, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.LessOrEqual(t, stdout.Len(), 1024)
	_, err = ReadReport(stdout.Bytes())
	assert.ErrorIs(t, err, ErrReportTooLarge)
}

func TestLocalize(t *testing.T) {
	in := "<sources>\n\t\t<source>/workspace</source>\n\t\t<source>/workspace/src</source>\n\t\t<source>/workspaces</source>\n\t</sources>\n<class filename=\"/workspace/calc.py\"/>"
	assert.Equal(t, "<sources>\n\t\t<source>/home/me/a&amp;b</source>\n\t\t<source>/home/me/a&amp;b/src</source>\n\t\t<source>/workspaces</source>\n\t</sources>\n<class filename=\"/workspace/calc.py\"/>",
		string(Localize([]byte(in), "/workspace/", "/home/me/a&b")))
}

// coveragePython returns a python3 on PATH that has coverage.py, or skips.
func coveragePython(t *testing.T) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(python, "-m", "coverage", "--version").Run()
	}
	if err != nil {
		t.Skip("no python3 with coverage.py on PATH")
	}
	return python
}

// combineReal runs Combine with a real coverage.py, as the coverage pod
// does, and returns the report it printed.
func combineReal(t *testing.T, python, data, work string, user []byte) Summary {
	t.Helper()
	rc := filepath.Join(t.TempDir(), "coveragerc")
	require.NoError(t, os.WriteFile(rc, []byte(Rcfile(work, user)), 0o644))
	var stdout, stderr bytes.Buffer
	code, err := Combine(context.Background(), CombineOptions{Python: python, DataDir: data, Rcfile: rc, Dir: work, Env: os.Environ()}, &stdout, &stderr)
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.Equal(t, 0, code)
	xml, err := ReadReport(stdout.Bytes())
	require.NoError(t, err)
	s, err := ParseReport(bytes.NewReader(xml))
	require.NoError(t, err)
	assert.NotContains(t, string(Localize(xml, work, "/p")), "<source>"+work+"</source>")
	return s
}

// TestCombineInThePodsDirectory measures a module in two processes, as two
// pods measure the workspace, and combines their data where the module
// is: the report names its file relative to it, and leaves out a file the
// image lacks.
func TestCombineInThePodsDirectory(t *testing.T) {
	python := coveragePython(t)
	work, data := t.TempDir(), t.TempDir()
	files := map[string]string{
		"mod.py":   "def one():\n    return 1\n\n\ndef two():\n    return 2\n",
		"main.py":  "import mod\nmod.one()\n",
		"other.py": "import mod\nmod.two()\n",
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(work, name), []byte(text), 0o644))
	}
	for _, script := range []string{"main.py", "other.py"} {
		cmd := exec.Command(python, "-m", "coverage", "run", "--parallel-mode", script)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), DataFileEnv+"="+filepath.Join(data, DataPrefix))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	// other.py was written by a test: the image does not have it.
	require.NoError(t, os.Remove(filepath.Join(work, "other.py")))
	s := combineReal(t, python, data, work, nil)
	names := filesByName(s)
	require.Contains(t, names, "mod.py", "files: %v", s.Files)
	assert.Equal(t, names["mod.py"].Lines, names["mod.py"].Covered, "both functions ran, in different processes")
	assert.Equal(t, []int{1, 2, 5, 6}, names["mod.py"].Executed)
	assert.NotContains(t, names, "other.py", "a file missing from the image is not reported")
	entries, err := os.ReadDir(data)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "the data files are left as they were")
}

// TestCombineEqualsAPlainRun: with the project's .coveragerc (an excluded
// function, [paths], [report] include and a plugin of its own), combining
// two processes' data gives the same files and lines as one plain
// `coverage run` of both.
func TestCombineEqualsAPlainRun(t *testing.T) {
	python := coveragePython(t)
	work, data := t.TempDir(), t.TempDir()
	user := "[run]\nplugins = no_such_plugin\n\n[report]\nexclude_lines =\n    pragma: no cover\ninclude =\n    /nowhere/*\n\n[paths]\nsource =\n    /nowhere\n    /elsewhere\n"
	files := map[string]string{
		"mod.py":  "def one():\n    return 1\n\n\ndef two():\n    return 2\n\n\ndef never():  # pragma: no cover\n    return 3\n",
		"main.py": "import sys\nimport mod\nif sys.argv[1] == 'one':\n    mod.one()\nelse:\n    mod.two()\n",
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(work, name), []byte(text), 0o644))
	}
	coverageIn := func(dataFile string, args ...string) {
		t.Helper()
		cmd := exec.Command(python, append([]string{"-m", "coverage"}, args...)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), DataFileEnv+"="+dataFile)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	for _, arg := range []string{"one", "two"} {
		coverageIn(filepath.Join(data, DataPrefix), "run", "--parallel-mode", "--include="+work+"/*", "main.py", arg)
	}
	ours := combineReal(t, python, data, work, []byte(user))

	plainData := filepath.Join(t.TempDir(), DataPrefix)
	coverageIn(plainData, "run", "main.py", "one")
	coverageIn(plainData, "run", "--append", "main.py", "two")
	plainXML := filepath.Join(t.TempDir(), ReportFile)
	require.NoError(t, os.WriteFile(filepath.Join(work, ProjectRcfile), []byte("[report]\nexclude_lines =\n    pragma: no cover\n"), 0o644))
	coverageIn(plainData, "xml", "-o", plainXML)
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
