// Package coverage measures a run's tests with coverage.py and merges the
// data files that the test pods ship into one Cobertura report. Each test
// pod runs pytest under `coverage run` (RunArgs); the merge runs where
// Python already is, in one more pod of the test image (Combine), which
// prints the report as a transport block that the runner reads back
// (ReadReport). Nothing of it runs on the machine that holds the secrets.
//
// The data files are untrusted (a test writes them), and so is the report
// the coverage pod prints: it is bounded and its file names are only data.
// The rcfile k8s-testrun writes restricts the report to files under the
// project's place in the image and ignores the project's plugins.
package coverage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
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

// ProjectRcfile is the project's own coverage.py configuration file, which
// the pods' coverage run reads from the workspace and Combine keeps for the
// report (exclude_lines, omit, precision...).
const ProjectRcfile = ".coveragerc"

// maxProjectRcfile bounds what is read of the project's configuration.
const maxProjectRcfile = 1 << 20

// Rcfile is the configuration the coverage pod gives coverage.py (see
// Combine): the project's own (user, the contents of its .coveragerc, may
// be empty) without what is replaced or ignored. Its [paths] go: the pods
// measured the project at workDir, where the coverage pod's image has it
// too, so no path needs mapping. Its [report] include and ignore_errors are
// replaced: the report keeps only files under workDir, and skips those the
// image lacks (one a test wrote). Its [run] plugins are dropped: a plugin
// is the project's code, and combining needs none.
func Rcfile(workDir string, user []byte) string {
	ours := []string{
		"ignore_errors = True",
		"include =",
		"    " + strings.TrimSuffix(workDir, "/") + "/*",
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
			skipping = section == "report" && (key == "include" || key == "ignore_errors") ||
				section == "run" && key == "plugins"
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
	return strings.TrimLeft(b.String(), "\n")
}

// sectionHeader matches an INI section header, as configparser reads it.
var sectionHeader = regexp.MustCompile(`^\[([^\]]+)\]`)

// ReadProjectRcfile reads the project's .coveragerc, if it has one, as
// data: at most maxProjectRcfile bytes. It is opened through an os.Root of
// the project, so a symbolic link cannot carry a file from outside the
// project (a credentials file, the checkout's git config) into the
// coverage pod's image.
func ReadProjectRcfile(projectDir string) ([]byte, error) {
	root, err := os.OpenRoot(projectDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(ProjectRcfile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ProjectRcfile, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file of the project", ProjectRcfile)
	}
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
