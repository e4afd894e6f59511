package discover

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// The collectskip-pytest7.* files are what pytest 7.2.1 (Debian bookworm's
// python3-pytest, the cluster's base image) printed and wrote for
// testdata/collectskip with `--collect-only -q -p no:cacheprovider -o
// junit_family=xunit1 --junitxml=/tmp/c.xml`, the project at /w. The
// collectskip-pytest8.* files are the same run as pytest 8.3.5 (Debian
// trixie) makes it, read from its source rather than run: its
// --collect-only summary line and its JUnit for a collection skip
// (append_collect_skipped, pytest_make_collect_report) are pytest 7's; only
// the suite's timestamp gains a time zone.

// discoveryLog is the discovery pod's log: pytest's output, then the block
// Collect prints with pytest's JUnit.
func discoveryLog(t *testing.T, output string, junitXML []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(output)
	require.NoError(t, transport.Encode(&b, []transport.File{{Name: JUnitFile, Data: junitXML}}, transport.DefaultBlock))
	return b.Bytes()
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

var collectSkipIDs = []string{
	"tests/test_marked_skip.py::test_marked_one",
	"tests/test_marked_skip.py::test_marked_two",
	"tests/test_normal.py::test_passes",
	"tests/test_normal.py::test_fails",
	"tests/test_normal.py::test_skipped",
	"tests/test_normal.py::TestGroup::test_in_class",
}

func TestParseLogSkippedModules(t *testing.T) {
	want := []junit.Testcase{
		{
			Classname: "", Name: "tests.test_importorskip", File: "tests/test_importorskip.py", Time: "0.000",
			Skipped: &junit.Result{
				Message: "collection skipped",
				Text:    `('/w/tests/test_importorskip.py', 3, "Skipped: could not import 'no_such_module': No module named 'no_such_module'")`,
			},
		},
		{
			Classname: "", Name: "tests.test_skip_module", File: "tests/test_skip_module.py", Time: "0.000",
			Skipped: &junit.Result{
				Message: "collection skipped",
				Text:    `('/w/tests/test_skip_module.py', 3, 'Skipped: needs a GPU')`,
			},
		},
	}
	for _, version := range []string{"pytest7", "pytest8"} {
		t.Run(version, func(t *testing.T) {
			log := discoveryLog(t, string(readFile(t, "collectskip-"+version+".txt")), readFile(t, "collectskip-"+version+".xml"))
			got, err := ParseLog(log, 0)
			require.NoError(t, err)
			assert.Equal(t, collectSkipIDs, got.IDs, "the block's lines are no test ids")
			assert.Equal(t, want, got.Skipped)
		})
	}
}

func TestParseLogNothingSkipped(t *testing.T) {
	xml := `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="0" time="0.010" timestamp="2026-12-01T10:50:16.950398" hostname="p" /></testsuites>`
	got, err := ParseLog(discoveryLog(t, readOutput(t, "sample.txt"), []byte(xml)), 0)
	require.NoError(t, err)
	assert.Equal(t, sampleIDs, got.IDs)
	assert.Empty(t, got.Skipped)
}

// The container runtime reads stdout and stderr apart, so a line pytest
// wrote to stderr can land among the block's lines; it stays pytest's.
func TestParseLogInterleavedBlock(t *testing.T) {
	log := discoveryLog(t, readOutput(t, "collectskip-pytest7.txt"), readFile(t, "collectskip-pytest7.xml"))
	lines := strings.SplitAfter(string(log), "\n")
	n := len(lines)
	lines = append(lines[:n-3], append([]string{"a warning on stderr\n"}, lines[n-3:]...)...)
	out := withoutBlock(strings.Join(lines, ""))
	assert.Equal(t, readOutput(t, "collectskip-pytest7.txt")+"a warning on stderr\n", out)
	got, err := ParseLog([]byte(strings.Join(lines, "")), 0)
	require.NoError(t, err)
	assert.Len(t, got.Skipped, 2)
}

func TestParseLogErrors(t *testing.T) {
	output := readOutput(t, "collectskip-pytest7.txt")
	t.Run("no block", func(t *testing.T) {
		_, err := ParseLog([]byte(output), 0)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "pytest's JUnit of the collection")
	})
	t.Run("damaged block", func(t *testing.T) {
		log := discoveryLog(t, output, readFile(t, "collectskip-pytest7.xml"))
		i := bytes.Index(log, []byte("H4sI"))
		require.Positive(t, i)
		log[i+10] ^= 1
		_, err := ParseLog(log, 0)
		require.Error(t, err)
	})
	t.Run("not junit", func(t *testing.T) {
		_, err := ParseLog(discoveryLog(t, output, []byte("<html/>")), 0)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "root element is <html>")
	})
	t.Run("collection error comes first", func(t *testing.T) {
		_, err := ParseLog([]byte(readOutput(t, "collection-error.txt")), 2)
		var ce *CollectionError
		require.ErrorAs(t, err, &ce)
		assert.NotContains(t, ce.Output, transport.Magic)
	})
	t.Run("block kept out of pytest's account", func(t *testing.T) {
		output := readOutput(t, "collection-error.txt") +
			"------ generated xml file: /tmp/k8s-testrun-collect-2483779747/junit.xml -------\n"
		log := discoveryLog(t, output, []byte(`<testsuites/>`))
		_, err := ParseLog(log, 2)
		var ce *CollectionError
		require.ErrorAs(t, err, &ce)
		assert.NotContains(t, ce.Output, transport.Magic)
		assert.NotContains(t, ce.Output, "generated xml file", "the user asked for no JUnit file")
		assert.Contains(t, ce.Output, "ERROR")
	})
	t.Run("no tests, every module skipped", func(t *testing.T) {
		// pytest 7.2.1 on the two modules of testdata/collectskip that skip
		// themselves: exit code 5, and both in its JUnit.
		got, err := ParseLog(discoveryLog(t, readOutput(t, "allskipped-pytest7.txt"), readFile(t, "collectskip-pytest7.xml")), 5)
		require.ErrorIs(t, err, ErrNoTests)
		assert.Empty(t, got.IDs)
		require.Len(t, got.Skipped, 2)
		assert.Equal(t, "tests/test_importorskip.py, tests/test_skip_module.py", got.SkippedNames(3))
		assert.Equal(t, "tests/test_importorskip.py and 1 more", got.SkippedNames(1))
	})
	t.Run("no tests", func(t *testing.T) {
		_, err := ParseLog(discoveryLog(t, readOutput(t, "no-tests.txt"), []byte(`<testsuites/>`)), 5)
		assert.ErrorIs(t, err, ErrNoTests)
	})
}

// fakePython writes a script that stands for the interpreter: it records
// its arguments, prints like pytest, writes the --junitxml file it is
// given unless told not to, and exits with $CODE.
func fakePython(t *testing.T) (python, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	python = filepath.Join(dir, "python")
	script := `#!/bin/sh
printf '%s\n' "$@" > "` + argsFile + `"
echo "tests/test_a.py::test_a"
echo
echo "1 test collected in 0.01s"
echo "a warning" >&2
if [ -z "$NO_JUNIT" ]; then
  for a in "$@"; do
    case "$a" in --junitxml=*) printf '%s' "$JUNIT" > "${a#--junitxml=}" ;; esac
  done
fi
exit "${CODE:-0}"
`
	require.NoError(t, os.WriteFile(python, []byte(script), 0o755))
	return python, argsFile
}

func TestCollect(t *testing.T) {
	xmlData := string(readFile(t, "collectskip-pytest7.xml"))
	python, argsFile := fakePython(t)
	var stdout, stderr bytes.Buffer
	code, err := Collect(context.Background(), []string{"tests/", "-k", "not slow"}, &stdout, &stderr, CollectOptions{
		Python: python, Env: []string{"JUNIT=" + xmlData, "CODE=0"},
	})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "a warning\n", stderr.String())
	assert.True(t, strings.HasPrefix(stdout.String(), "tests/test_a.py::test_a\n\n1 test collected in 0.01s\n"+transport.Magic+" BEGIN"), stdout.String())

	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	argv := strings.Split(strings.TrimSuffix(string(args), "\n"), "\n")
	require.Len(t, argv, 12)
	assert.Equal(t, []string{"-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1"}, argv[:8])
	assert.True(t, strings.HasPrefix(argv[8], "--junitxml="), argv[8])
	assert.Equal(t, []string{"tests/", "-k", "not slow"}, argv[9:], "the selection comes last")
	_, err = os.Stat(strings.TrimPrefix(argv[8], "--junitxml="))
	assert.ErrorIs(t, err, os.ErrNotExist, "the JUnit's directory is removed")

	files, err := transport.Decode(&stdout)
	require.NoError(t, err)
	require.Len(t, files, 1)
	assert.Equal(t, JUnitFile, files[0].Name)
	assert.Equal(t, xmlData, string(files[0].Data))

}

// What Collect prints is what ParseLog reads.
func TestCollectThenParseLog(t *testing.T) {
	python, _ := fakePython(t)
	var stdout bytes.Buffer
	code, err := Collect(context.Background(), nil, &stdout, &bytes.Buffer{}, CollectOptions{
		Python: python, Env: []string{"JUNIT=" + string(readFile(t, "collectskip-pytest7.xml"))},
	})
	require.NoError(t, err)
	got, err := ParseLog(stdout.Bytes(), code)
	require.NoError(t, err)
	assert.Equal(t, []string{"tests/test_a.py::test_a"}, got.IDs)
	require.Len(t, got.Skipped, 2)
	assert.Equal(t, "tests/test_importorskip.py", got.Skipped[0].File)
}

func TestCollectExitCodes(t *testing.T) {
	python, _ := fakePython(t)
	t.Run("pytest's exit code", func(t *testing.T) {
		var stdout bytes.Buffer
		code, err := Collect(context.Background(), nil, &stdout, &bytes.Buffer{}, CollectOptions{
			Python: python, Env: []string{"JUNIT=<testsuites/>", "CODE=2"},
		})
		require.NoError(t, err)
		assert.Equal(t, 2, code)
		assert.Contains(t, stdout.String(), transport.Magic+" END")
	})
	t.Run("no JUnit written, no block", func(t *testing.T) {
		var stdout bytes.Buffer
		code, err := Collect(context.Background(), nil, &stdout, &bytes.Buffer{}, CollectOptions{
			Python: python, Env: []string{"NO_JUNIT=1", "CODE=4"},
		})
		require.NoError(t, err)
		assert.Equal(t, 4, code)
		assert.NotContains(t, stdout.String(), transport.Magic)
	})
	t.Run("no interpreter", func(t *testing.T) {
		code, err := Collect(context.Background(), nil, &bytes.Buffer{}, &bytes.Buffer{}, CollectOptions{
			Python: filepath.Join(t.TempDir(), "no-python"),
		})
		require.Error(t, err)
		assert.Equal(t, 127, code)
	})
}

func TestCommand(t *testing.T) {
	shim := []string{"/bin/k8s-testrun", "shim", "--results", Results, "--",
		"/bin/k8s-testrun", "collect", "--", "-p", layout.MarkersPlugin, "--k8s-testrun-list-markers"}
	assert.Equal(t, append(shim, "tests/", "-m", "not slow"),
		Command("/bin/k8s-testrun", []string{"tests/", "-m", "not slow"}))
	assert.Equal(t, shim, Command("/bin/k8s-testrun", nil))
}

func TestParseLogMarks(t *testing.T) {
	xml := `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="0" time="0.010" timestamp="2026-12-01T10:50:16.950398" hostname="p" /></testsuites>`
	out := readOutput(t, "sample.txt")
	line := `k8s-testrun-marks {"nodeid": "` + sampleIDs[0] + `", "markers": ["serial"]}` + "\n"
	got, err := ParseLog(discoveryLog(t, line+out, []byte(xml)), 0)
	require.NoError(t, err)
	assert.Equal(t, sampleIDs, got.IDs)
	assert.Equal(t, map[string][]string{sampleIDs[0]: {"serial"}}, got.Marks)
}
