package discover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// What `pytest --collect-only` never lists: a module that skips itself at
// import (pytest.importorskip, pytest.skip(allow_module_level=True)) yields
// no test ids, yet plain pytest reports it as one skipped testcase in its
// JUnit and counts it in "N skipped". pytest's JUnit of the collection run
// holds those testcases (pytest 7 and 8 write them the same way:
// <skipped message="collection skipped">), so the discovery pod ships that
// file after pytest's output, as one transport block, and the run reports
// the testcases as pytest wrote them.

// JUnitFile is the name of pytest's collection JUnit in the discovery
// pod's block: the name transport caps as JUnit and never drops.
const JUnitFile = "junit.xml"

// Role is the name of the binary's role that runs the collection.
const Role = "collect"

// tempPrefix starts the name of the directory Collect has pytest write its
// JUnit in.
const tempPrefix = "k8s-testrun-collect-"

// PytestArgs is the collection command, writing its JUnit to junitPath,
// before the user's selection. The JUnit options come before the selection
// so that a selection of the user's own --junitxml would win, as it would
// in their pytest; then the block is missing and ParseLog says so.
func PytestArgs(python, junitPath string, selection []string) []string {
	argv := []string{python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
		"-o", "junit_family=xunit1", "--junitxml=" + junitPath}
	return append(argv, selection...)
}

// Results is where the shim of a discovery pod keeps its files.
const Results = "/tmp/k8s-testrun-discover"

// Command is the discovery pod's command: the binary's collect role, which
// runs PytestArgs with the selection, under the shim, which makes the
// markers plugin importable; that plugin lists each test's faketime
// marker (SplitMarkers reads them).
func Command(binary string, selection []string) []string {
	argv := []string{binary, "shim", "--results", Results, "--",
		binary, Role, "--", "-p", layout.MarkersPlugin, "--k8s-testrun-list-markers"}
	return append(argv, selection...)
}

// CoverageFlag asks the collect role to find out, too, whether the image's
// Python has coverage.py (CoverageFile in the block says).
const CoverageFlag = "--check-coverage"

// CoverageFile is, in the discovery pod's block, the version of coverage.py
// the image's Python imports; empty when it has none.
const CoverageFile = "coverage-version"

// WithCoverageCheck is Command with the collect role asked to look for
// coverage.py as well.
func WithCoverageCheck(argv []string) []string {
	for i, a := range argv {
		if a == Role {
			return append(append(append([]string{}, argv[:i+1]...), CoverageFlag), argv[i+1:]...)
		}
	}
	return argv
}

// CollectOptions are Collect's optional settings.
type CollectOptions struct {
	// Python is the interpreter; empty means "python".
	Python string
	// Env is pytest's environment; nil gives it none.
	Env []string
	// WaitDelay bounds the wait for pytest's output once it exited, in
	// case a process it started holds the pipes open; zero means 5 s.
	WaitDelay time.Duration
	// CheckCoverage adds CoverageFile to the block.
	CheckCoverage bool
}

// Collect runs pytest's collection of selection with its output on stdout
// and stderr, then prints pytest's JUnit of it as one transport block on
// stdout, and returns pytest's exit code (127 when it could not start).
// With no JUnit written (pytest stopped before its session ended), no block
// is printed.
func Collect(ctx context.Context, selection []string, stdout, stderr io.Writer, opts CollectOptions) (int, error) {
	if opts.Python == "" {
		opts.Python = "python"
	}
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return 127, fmt.Errorf("creating a directory for pytest's JUnit: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, JUnitFile)
	argv := PytestArgs(opts.Python, path, selection)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = opts.Env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = opts.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 5 * time.Second
	}
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return 127, fmt.Errorf("running %s: %w", argv[0], err)
		}
		code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return code, nil
	}
	if err != nil {
		return code, fmt.Errorf("reading pytest's JUnit: %w", err)
	}
	files := []transport.File{{Name: JUnitFile, Data: data}}
	if opts.CheckCoverage {
		files = append(files, transport.File{Name: CoverageFile, Data: []byte(coverageVersion(ctx, opts))})
	}
	if err := transport.Encode(stdout, files, transport.DefaultBlock); err != nil {
		return code, fmt.Errorf("printing pytest's JUnit: %w", err)
	}
	return code, nil
}

// coverageVersion is the version of coverage.py that the Python imports,
// or "" when it imports none.
func coverageVersion(ctx context.Context, opts CollectOptions) string {
	cmd := exec.CommandContext(ctx, opts.Python, "-c", "import coverage; print(coverage.__version__)")
	cmd.Env = opts.Env
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(out))
	if len(v) > 64 {
		v = v[:64]
	}
	return v
}

// Collection is what the discovery pod found.
type Collection struct {
	// IDs are the test ids to run, in pytest's order.
	IDs []string
	// Skipped are pytest's own JUnit testcases for what its collection
	// skipped, as pytest wrote them: one per module that skipped itself
	// at import, named by the module (classname "", name "tests.test_x",
	// file "tests/test_x.py"), its <skipped> holding pytest's message and
	// reason. They run in no pod.
	Skipped []junit.Testcase
	// Markers are the tests' faketime markers, by test id, from the
	// markers plugin's lines (SplitMarkers).
	Markers map[string]string
	// Coverage is the version of coverage.py in the image, when the pod
	// was asked (WithCoverageCheck) and found it.
	Coverage string
	// Marks are the names of each test's markers other than pytest's own,
	// by test id (SplitMarks): they pick the test's lane.
	Marks map[string][]string
	// Versions are those of the image's Python and pytest, from the
	// markers plugin (SplitVersions); empty when it printed none.
	Versions Versions
}

// ParseLog reads the discovery pod's log: pytest's --collect-only output,
// which Parse reads, followed by the block Collect prints. exitCode is the
// pod's.
//
// Errors: those of Parse, which come first (with ErrNoTests, Skipped
// still holds what pytest skipped, when the block says); then an error when
// the log has no readable block, since without it modules skipped at
// collection would silently vanish from the report.
func ParseLog(log []byte, exitCode int) (Collection, error) {
	versions, rest := SplitVersions(string(log))
	marks, rest := SplitMarks(rest)
	markers, rest, err := SplitMarkers(rest)
	if err != nil {
		return Collection{}, err
	}
	ids, err := Parse(withoutBlock(rest), exitCode)
	if errors.Is(err, ErrNoTests) {
		// pytest collected nothing; what it skipped may say why.
		skipped, blockErr := skippedInBlock(log)
		if blockErr != nil {
			return Collection{}, err
		}
		return Collection{Skipped: skipped}, err
	}
	if err != nil {
		return Collection{}, err
	}
	skipped, err := skippedInBlock(log)
	if err != nil {
		return Collection{}, err
	}
	return Collection{IDs: ids, Skipped: skipped, Markers: markers, Marks: marks, Coverage: coverageInBlock(log), Versions: versions}, nil
}

// skippedInBlock reads pytest's JUnit out of the log's block and returns
// its skipped testcases.
func skippedInBlock(log []byte) ([]junit.Testcase, error) {
	files, err := transport.Decode(bytes.NewReader(log))
	if err != nil {
		return nil, fmt.Errorf("reading pytest's JUnit of the collection from the discovery log: %w", err)
	}
	var data []byte
	found := false
	for _, f := range files {
		if f.Name == JUnitFile {
			data, found = f.Data, true
		}
	}
	if !found {
		return nil, fmt.Errorf("reading pytest's JUnit of the collection from the discovery log: the block has no %s", JUnitFile)
	}
	ts, err := junit.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading pytest's JUnit of the collection: %w", err)
	}
	var skipped []junit.Testcase
	for _, s := range ts.Suites {
		for _, tc := range s.Testcases {
			if tc.Skipped != nil && tc.Failure == nil && tc.Error == nil {
				skipped = append(skipped, tc)
			}
		}
	}
	return skipped, nil
}

// coverageInBlock reads CoverageFile out of the log's block.
func coverageInBlock(log []byte) string {
	files, err := transport.Decode(bytes.NewReader(log))
	if err != nil {
		return ""
	}
	for _, f := range files {
		if f.Name == CoverageFile {
			return strings.TrimSpace(string(f.Data))
		}
	}
	return ""
}

// SkippedNames names the first few of what the collection skipped, for a
// message: "tests/test_a.py, tests/test_b.py and 3 more".
func (c Collection) SkippedNames(few int) string {
	names := make([]string, 0, few)
	for _, tc := range c.Skipped {
		if len(names) == few {
			break
		}
		name := tc.File
		if name == "" {
			name = tc.Name
		}
		names = append(names, name)
	}
	out := strings.Join(names, ", ")
	if more := len(c.Skipped) - len(names); more > 0 {
		out += fmt.Sprintf(" and %d more", more)
	}
	return out
}

var (
	blockBegin = transport.Magic + " BEGIN "
	blockEnd   = transport.Magic + " END"
	// payloadLine is a line of a block's base64 payload.
	payloadLine = regexp.MustCompile(`^[A-Za-z0-9+/=]+$`)
)

// withoutBlock removes the block's lines from log, keeping the lines of
// pytest's output the container runtime may have interleaved with them.
// pytest's note of the JUnit file Collect asked for goes too: the user
// asked for no such file.
func withoutBlock(log string) string {
	var out []string
	in := false
	for _, line := range strings.SplitAfter(log, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.Contains(trimmed, " generated xml file: ") && strings.Contains(trimmed, tempPrefix):
		case strings.HasPrefix(trimmed, blockBegin):
			in = true
		case in && trimmed == blockEnd:
			in = false
		case in && payloadLine.MatchString(trimmed):
		default:
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
