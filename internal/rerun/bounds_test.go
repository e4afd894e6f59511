package rerun

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nestedSize is the size of the hostile report of issue 18: elements
// nested as deep as 53 MiB allow.
const nestedSize = 53 << 20

// writeNested writes a report of size bytes whose testcase holds elements
// nested as deep as they go.
func writeNested(t testing.TB, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	head := `<testsuites><testsuite name="s"><testcase classname="a" name="b">`
	_, err = w.WriteString(head)
	require.NoError(t, err)
	for n := len(head); n+3 <= size; n += 3 {
		_, err = w.WriteString("<a>")
		require.NoError(t, err)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// readerEnv names, in a child test process, the report TestNestedReport
// reads.
const readerEnv = "K8S_TESTRUN_RERUN_READ"

// TestReadInChild is the child of TestNestedReportPeakRSS: it loads one
// report and prints the error.
func TestReadInChild(t *testing.T) {
	path := os.Getenv(readerEnv)
	if path == "" {
		t.Skip("runs as the child of TestNestedReportPeakRSS")
	}
	_, err := Load(path)
	fmt.Printf("error: %v\n", err)
}

// TestNestedReportPeakRSS loads a 53 MiB report of nested elements in a
// child process and checks its peak RSS, as the kernel counts it
// (getrusage's ru_maxrss of the child), and its one-line error.
func TestNestedReportPeakRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 53 MiB file")
	}
	path := filepath.Join(t.TempDir(), "nested.xml")
	writeNested(t, path, nestedSize)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadInChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), readerEnv+"="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
	t.Logf("peak RSS reading a %d MiB nested report: %d MiB", nestedSize>>20, rss>>20)
	assert.LessOrEqual(t, rss, int64(200<<20), "peak RSS")
	line := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "error: ") {
			line = l
		}
	}
	assert.Contains(t, line, "nested deeper than")
}

func TestDepthLimit(t *testing.T) {
	nested := func(depth int) string {
		// testsuites > testsuite > testcase > depth-3 more.
		return `<testsuites><testsuite><testcase classname="a" name="b"><failure/>` +
			strings.Repeat("<x>", depth-3) + strings.Repeat("</x>", depth-3) + `</testcase></testsuite></testsuites>`
	}
	rep, err := Read(strings.NewReader(nested(MaxDepth)))
	require.NoError(t, err)
	assert.Equal(t, []Test{{Classname: "a", Name: "b"}}, rep.Failed)

	_, err = Read(strings.NewReader(nested(MaxDepth + 1)))
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "is not a JUnit XML report: its elements are nested deeper than 100 levels", fe.Problem)
}
