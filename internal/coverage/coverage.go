// Package coverage merges the coverage.py data files that the test pods of a
// run ship into one Cobertura report, with coverage.py itself on the host:
// `coverage combine` maps the pods' workspace (layout.WorkDir) to the local
// project, `coverage xml` writes the report, and the report's totals give
// the run's percentage.
//
// The data files are untrusted (a test writes them); the generated rcfile
// restricts the report to files under the project, so no path a data file
// names outside it is ever read.
package coverage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// DataFileEnv is the variable coverage.py reads its data file's name from;
// with --parallel-mode each process appends its host, pid and a random
// suffix to it, so pods never clash.
const DataFileEnv = "COVERAGE_FILE"

// DataPrefix starts the name of every data file coverage.py writes in
// parallel mode, relative to the directory DataFileEnv names.
const DataPrefix = ".coverage"

// ReportFile is the Cobertura report's name, beside the JUnit report.
const ReportFile = "coverage.xml"

// RunArgs replaces `python -m pytest` in a test container: pytest runs
// under coverage.py, which writes a data file of its own per process. Only
// files under workDir are measured: the report keeps to the project's
// files, and measuring pytest and the site packages as well would only
// make the data files larger (76 rather than 52 KiB per pod for
// testdata/coverage) and the tests slower.
func RunArgs(python, workDir string) []string {
	return []string{python, "-m", "coverage", "run", "--parallel-mode", "--include=" + strings.TrimSuffix(workDir, "/") + "/*", "-m", "pytest"}
}

// hostCommands are the ways coverage.py may be found on the host, in order:
// the Python on PATH, then Debian's python3-coverage (whose script runs
// /usr/bin/python3, which a Python on PATH such as pyenv's may not be).
var hostCommands = [][]string{
	{"python3", "-m", "coverage"},
	{"python3-coverage"},
	{"/usr/bin/python3", "-m", "coverage"},
}

// ErrNoHostCoverage means no coverage.py was found on the host.
var ErrNoHostCoverage = errors.New("coverage.py is not installed on this machine, which combines the pods' coverage data: install it (apt-get install python3-coverage, or pip install coverage)")

// Tool is coverage.py on the host.
type Tool struct {
	// Command runs coverage.py's command line, e.g. python3 -m coverage.
	Command []string
	// Version is what `coverage --version` printed first.
	Version string
	// Env is the environment coverage.py runs in.
	Env []string
}

// FindHost returns the first of the host's coverage.py commands that runs
// in the environment environ.
func FindHost(ctx context.Context, environ []string) (Tool, error) {
	return findHost(ctx, hostCommands, environ)
}

func findHost(ctx context.Context, candidates [][]string, environ []string) (Tool, error) {
	for _, c := range candidates {
		cmd := exec.CommandContext(ctx, c[0], append(c[1:], "--version")...)
		cmd.Env = environ
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "Coverage.py") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return Tool{Command: c, Version: first, Env: environ}, nil
	}
	return Tool{}, ErrNoHostCoverage
}

// ProjectRcfile is the project's own coverage.py configuration file, which
// the pods' coverage run reads from the workspace and Combine keeps for the
// report (exclude_lines, omit, precision...).
const ProjectRcfile = ".coveragerc"

// maxProjectRcfile bounds what is read of the project's configuration.
const maxProjectRcfile = 1 << 20

// Rcfile is the configuration Combine gives coverage.py: the project's own
// (user, the contents of its .coveragerc, may be empty) without its
// [paths] and its [report] include and ignore_errors, which are replaced:
// [paths] maps what the pods measured under workDir to projectDir, and
// [report] keeps only files under projectDir, so the report reads no file
// outside it, and skips those the project does not have.
func Rcfile(workDir, projectDir string, user []byte) string {
	projectDir = filepath.Clean(projectDir)
	ours := []string{
		// A file the pod measured that the project lacks (one a test
		// wrote) is left out rather than failing the report.
		"ignore_errors = True",
		"include =",
		"    " + filepath.Join(projectDir, "*"),
	}
	var b strings.Builder
	section, skipping, report := "", false, false
	for _, line := range strings.Split(strings.ReplaceAll(string(user), "\r\n", "\n"), "\n") {
		if m := sectionHeader.FindStringSubmatch(line); m != nil {
			if section == "report" {
				b.WriteString(strings.Join(ours, "\n") + "\n")
			}
			section, skipping = strings.TrimSpace(m[1]), false // configparser keeps its case
			if section == "report" {
				report = true
			}
			if section != "paths" {
				b.WriteString(line + "\n")
			}
			continue
		}
		switch {
		case section == "" || section == "paths":
			continue
		case line != "" && (line[0] == ' ' || line[0] == '\t'):
			// A continuation of the key above it.
		default:
			key, _, _ := strings.Cut(line, "=")
			key, _, _ = strings.Cut(key, ":")
			key = strings.ToLower(strings.TrimSpace(key))
			skipping = section == "report" && (key == "include" || key == "ignore_errors")
		}
		if !skipping {
			b.WriteString(line + "\n")
		}
	}
	if section == "report" {
		b.WriteString(strings.Join(ours, "\n") + "\n")
	}
	if !report {
		b.WriteString("\n[report]\n" + strings.Join(ours, "\n") + "\n")
	}
	b.WriteString("\n[paths]\nsource =\n")
	b.WriteString("    " + projectDir + "\n")
	b.WriteString("    " + strings.TrimSuffix(workDir, "/") + "\n")
	return strings.TrimLeft(b.String(), "\n")
}

// sectionHeader matches an INI section header, as configparser reads it.
var sectionHeader = regexp.MustCompile(`^\[([^\]]+)\]`)

// projectRcfile reads the project's .coveragerc, if it has one.
func projectRcfile(projectDir string) ([]byte, error) {
	f, err := os.Open(filepath.Join(projectDir, ProjectRcfile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxProjectRcfile))
}

// File is one measured file of the report.
type File struct {
	// Name is relative to the project, in slash form.
	Name           string
	Lines, Covered int
	// Executed are the line numbers that ran.
	Executed []int
}

// Percent is the share of the file's lines that ran, 100 for a file
// without lines.
func (f File) Percent() float64 {
	if f.Lines == 0 {
		return 100
	}
	return 100 * float64(f.Covered) / float64(f.Lines)
}

// Summary is the combined report's totals.
type Summary struct {
	Lines, Covered int
	Files          []File
	// Report is the Cobertura file's path.
	Report string
}

// Percent is the share of all measured lines that ran.
func (s Summary) Percent() float64 {
	if s.Lines == 0 {
		return 100
	}
	return 100 * float64(s.Covered) / float64(s.Lines)
}

// Total formats Percent to a tenth, rounded down, so that a run that
// missed a line never reads 100.0%.
func (s Summary) Total() string {
	return strconv.FormatFloat(math.Floor(s.Percent()*10)/10, 'f', 1, 64) + "%"
}

// Least returns up to n files with the lowest percentage, ties by name.
func (s Summary) Least(n int) []File {
	files := append([]File(nil), s.Files...)
	sort.SliceStable(files, func(i, j int) bool {
		pi, pj := files[i].Percent(), files[j].Percent()
		if pi != pj {
			return pi < pj
		}
		return files[i].Name < files[j].Name
	})
	if len(files) > n {
		files = files[:n]
	}
	return files
}

// Combine merges the data files in dataDir (DataPrefix.*), which the pods
// wrote under workDir, into a Cobertura report at reportPath with paths
// relative to projectDir, and returns its summary. The merged data file
// stays in dataDir.
func Combine(ctx context.Context, tool Tool, dataDir, workDir, projectDir, reportPath string) (Summary, error) {
	projectDir, err := filepath.Abs(projectDir)
	if err != nil {
		return Summary{}, err
	}
	if reportPath, err = filepath.Abs(reportPath); err != nil {
		return Summary{}, err
	}
	matches, err := filepath.Glob(filepath.Join(dataDir, DataPrefix+".*"))
	if err != nil {
		return Summary{}, err
	}
	if len(matches) == 0 {
		return Summary{}, fmt.Errorf("combining coverage: no pod shipped a coverage data file")
	}
	rc := filepath.Join(dataDir, "coveragerc")
	user, err := projectRcfile(projectDir)
	if err != nil {
		return Summary{}, fmt.Errorf("reading the project's coverage configuration: %w", err)
	}
	if err := os.WriteFile(rc, []byte(Rcfile(workDir, projectDir, user)), 0o644); err != nil {
		return Summary{}, fmt.Errorf("combining coverage: %w", err)
	}
	env := append(append([]string(nil), tool.Env...), DataFileEnv+"="+filepath.Join(dataDir, DataPrefix))
	run := func(args ...string) error {
		argv := append(append([]string(nil), tool.Command...), args...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		// Relative names in the report are relative to the project.
		cmd.Dir, cmd.Env = projectDir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, lastLine(out.String()))
		}
		return nil
	}
	if err := run("combine", "--rcfile="+rc, dataDir); err != nil {
		return Summary{}, fmt.Errorf("combining coverage: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(reportPath), 0o755); err != nil {
		return Summary{}, fmt.Errorf("writing %s: %w", reportPath, err)
	}
	if err := run("xml", "--rcfile="+rc, "-o", reportPath); err != nil {
		return Summary{}, fmt.Errorf("writing %s: %w", reportPath, err)
	}
	f, err := os.Open(reportPath)
	if err != nil {
		return Summary{}, err
	}
	defer f.Close()
	s, err := ParseReport(f)
	if err != nil {
		return Summary{}, fmt.Errorf("reading %s: %w", reportPath, err)
	}
	s.Report = reportPath
	return s, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
