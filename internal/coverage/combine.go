package coverage

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// Role is the hidden command the coverage pod runs: Combine.
const Role = "coverage-combine"

// Where the coverage pod's image holds what the run adds for it.
var (
	DataDir    = layout.CoverageDir + "/data"
	RcfilePath = layout.CoverageDir + "/coveragerc"
)

// BlockLimit caps the block the coverage pod prints, framing included:
// under the kubelet's default log rotation size (10 MiB), past which
// pods/log would return only the newest part of the log.
const BlockLimit = 8 << 20

// MaxReport bounds the Cobertura report taken from the coverage pod once
// decompressed; a larger one is dropped as too large.
const MaxReport = 64 << 20

// CombineOptions configure Combine. Rcfile is required.
type CombineOptions struct {
	// Python runs coverage.py; default "python".
	Python string
	// DataDir holds the data files, DataPrefix.*; default DataDir.
	DataDir string
	// Rcfile is the configuration k8s-testrun wrote (see Rcfile).
	Rcfile string
	// Dir is coverage.py's working directory, to which the report's file
	// names are relative: the project's place in the image, where the test
	// pods ran. Default layout.WorkDir.
	Dir string
	// Env is coverage.py's environment; COVERAGE_FILE is set on top.
	Env []string
	// Limit caps the block; default BlockLimit.
	Limit int
}

// maxChildOutput bounds what is kept of coverage.py's own output, which is
// only shown when it fails.
const maxChildOutput = 64 << 10

// Combine runs in the coverage pod. It merges the data files of o.DataDir
// with `python -m coverage combine`, writes the Cobertura report with
// `python -m coverage xml`, both in a scratch directory, and prints the
// report to stdout as one transport block (see ReadReport). On failure it
// prints the tail of coverage.py's output to stderr and returns a non-zero
// exit code.
func Combine(ctx context.Context, o CombineOptions, stdout, stderr io.Writer) (int, error) {
	if o.Python == "" {
		o.Python = "python"
	}
	if o.DataDir == "" {
		o.DataDir = DataDir
	}
	if o.Dir == "" {
		o.Dir = layout.WorkDir
	}
	if o.Limit <= 0 {
		o.Limit = BlockLimit
	}
	if o.Rcfile == "" {
		return 2, errors.New("no rcfile given")
	}
	scratch, err := os.MkdirTemp("", "k8s-testrun-coverage-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(scratch)
	// coverage combine deletes what it combined: it works on copies.
	data := filepath.Join(scratch, "data")
	n, err := copyDataFiles(o.DataDir, data)
	if err != nil {
		return 1, err
	}
	if n == 0 {
		return 1, fmt.Errorf("no coverage data file (%s.*) in %s", DataPrefix, o.DataDir)
	}
	env := append(append([]string(nil), o.Env...), DataFileEnv+"="+filepath.Join(scratch, DataPrefix))
	// Each data file's measured files, before combine deletes them: with
	// one pod per test, each test's footprint. Without them the report
	// still goes out.
	fp, err := footprints(ctx, o.Python, o.Dir, env, data)
	if err != nil {
		fmt.Fprintln(stderr, "no footprints: "+err.Error())
	}
	run := func(args ...string) error {
		argv := append([]string{o.Python, "-m", "coverage"}, args...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = o.Dir, env
		cmd.WaitDelay = 5 * time.Second
		out := transport.NewTail(maxChildOutput)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			if text := strings.TrimSpace(out.String()); text != "" {
				fmt.Fprintln(stderr, text)
			}
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, lastLine(out.String()))
		}
		return nil
	}
	if err := run("combine", "--rcfile="+o.Rcfile, data); err != nil {
		return 1, err
	}
	report := filepath.Join(scratch, ReportFile)
	if err := run("xml", "--rcfile="+o.Rcfile, "-o", report); err != nil {
		return 1, err
	}
	xml, err := os.ReadFile(report)
	if err != nil {
		return 1, fmt.Errorf("reading the report: %w", err)
	}
	block, err := encodeWithFootprints(xml, fp, o.Limit)
	if err != nil {
		return 1, err
	}
	if _, err := stdout.Write(block); err != nil {
		return 1, err
	}
	return 0, nil
}

// copyDataFiles copies the data files of dir to a new directory to, and
// returns how many there were.
func copyDataFiles(dir, to string) (int, error) {
	matches, err := filepath.Glob(filepath.Join(dir, DataPrefix+".*"))
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return 0, err
	}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			return 0, fmt.Errorf("reading coverage data: %w", err)
		}
		if err := os.WriteFile(filepath.Join(to, filepath.Base(m)), b, 0o600); err != nil {
			return 0, fmt.Errorf("copying coverage data: %w", err)
		}
	}
	return len(matches), nil
}

func xmlEscape(w io.Writer, s string) error { return xml.EscapeText(w, []byte(s)) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Localize names projectDir, on this machine, in the report's sources
// where the coverage pod named workDir, its place in the image (a source
// is workDir itself, or a directory under it that the project's [run]
// source names): the file names are relative to the sources, so the
// report reads as if combined here. Nothing else of the report changes.
func Localize(xml []byte, workDir, projectDir string) []byte {
	var esc strings.Builder
	_ = xmlEscape(&esc, projectDir)
	workDir = strings.TrimSuffix(workDir, "/")
	xml = bytes.ReplaceAll(xml, []byte("<source>"+workDir+"</source>"), []byte("<source>"+esc.String()+"</source>"))
	return bytes.ReplaceAll(xml, []byte("<source>"+workDir+"/"), []byte("<source>"+esc.String()+"/"))
}

// ErrReportTooLarge means the coverage pod's report did not fit its block.
var ErrReportTooLarge = fmt.Errorf("the coverage report is larger than the coverage pod may ship (%d MiB compressed, %d MiB as XML)", BlockLimit>>20, MaxReport>>20)

// ReadReport takes the Cobertura report from the coverage pod's log, as
// Combine printed it, within BlockLimit and MaxReport. Its bytes are the
// pod's: untrusted, bounded, and only data.
func ReadReport(log []byte) ([]byte, error) {
	files, err := transport.DecodeLimits(bytes.NewReader(log), transport.Limits{Block: BlockLimit, File: MaxReport})
	if err != nil {
		return nil, fmt.Errorf("reading the coverage pod's report: %w", err)
	}
	for _, f := range files {
		if f.Name == ReportFile {
			return f.Data, nil
		}
	}
	return nil, ErrReportTooLarge
}
