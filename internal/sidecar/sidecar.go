// Package sidecar is the collector container of a test pod: it waits for the
// shim's done marker, then prints the results as one transport block to its
// own log, where the runner reads them with pods/log.
//
// It also ships when told to stop before the marker appears (a test killed
// at its deadline, a pod deleted): whatever the results directory holds then
// is better than nothing, and the missing exit code file says the test did
// not finish.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// DefaultLimit is the default cap on the block, framing included: enough for
// a JUnit file, a long traceback and a good tail of output, and small beside
// the kubelet's default 10 MiB of log per container.
const DefaultLimit = 1 << 20

// DefaultPollInterval is how often the marker and the linger file are read.
const DefaultPollInterval = 50 * time.Millisecond

// readFactor bounds what is read from disk at all, as a multiple of the
// limit: no file larger than that could fit the block even compressed well,
// and the sidecar's memory stays bounded.
const readFactor = 16

// Options are Run's optional settings.
type Options struct {
	// Limit caps the block in bytes; zero means DefaultLimit.
	Limit int
	// Hold keeps Run from returning after it ships, until ctx is cancelled.
	// A native sidecar (an init container with restartPolicy Always) needs
	// it: if it exited on its own, the kubelet would restart it.
	Hold bool
	// LingerFile, when set, names a file (a downward API projection of a pod
	// annotation) holding a duration such as "10m" or a number of seconds.
	// After shipping, Run keeps the pod alive that long, for a look inside;
	// writing 0 or nothing to it ends the wait early.
	LingerFile string
	// PollInterval is how often the marker and LingerFile are read; zero
	// means DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives progress records; nil discards them. It must not
	// write to out.
	Logger *slog.Logger
	// Clock paces the polls and measures the linger; nil means the real
	// clock. Tests step a fake one instead of sleeping.
	Clock Clock
}

// Clock is the time as Run sees it. k8s.io/utils/clock's clocks are Clocks;
// the collector does without the import (the pod binary stays small).
type Clock interface {
	Now() time.Time
	// After is a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Run waits for resultsDir/done or for ctx to be cancelled, then writes one
// transport block of the results to out. Cancellation is the normal end of a
// sidecar, not an error: Run returns an error only when it cannot write the
// block.
func Run(ctx context.Context, resultsDir string, out io.Writer, opts Options) error {
	if opts.Limit <= 0 {
		opts.Limit = DefaultLimit
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	clk := opts.Clock
	if clk == nil {
		clk = realClock{}
	}

	marker := filepath.Join(resultsDir, layout.DoneFile)
	logger.Debug("waiting for the done marker", "path", marker)
	if waitFor(ctx, clk, opts.PollInterval, func() bool { return exists(marker) }) {
		logger.Debug("done marker found")
	} else {
		logger.Info("stopped before the done marker appeared; shipping what there is")
	}

	files := collect(resultsDir, readFactor*opts.Limit, logger)
	if err := transport.Encode(out, files, opts.Limit); err != nil {
		return fmt.Errorf("shipping results: %w", err)
	}
	logger.Info("results shipped", "files", len(files))

	if opts.LingerFile != "" {
		shipped := clk.Now()
		waitFor(ctx, clk, opts.PollInterval, func() bool {
			d := readLinger(opts.LingerFile)
			return d <= 0 || clk.Now().Sub(shipped) >= d
		})
	}
	if opts.Hold {
		<-ctx.Done()
	}
	return nil
}

// waitFor polls cond until it holds (true) or ctx is done (false). Each
// wait is asked of clk after cond was read, so a fake clock with a waiter
// says the condition has been read at its current time.
func waitFor(ctx context.Context, clk Clock, interval time.Duration, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-clk.After(interval):
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// collect reads junit.xml, exitcode, the tail of output.txt and the
// artifacts, the last two at most maxRead bytes each. What it leaves out is
// listed in a TRUNCATED file, which transport.Encode extends with its own
// cuts.
func collect(resultsDir string, maxRead int, logger *slog.Logger) []transport.File {
	var files []transport.File
	var notes []string
	note := func(format string, args ...any) {
		notes = append(notes, fmt.Sprintf(format, args...))
	}

	for _, name := range []string{layout.JUnitFile, layout.ExitCodeFile, layout.TimesFile} {
		// Read whole: cut short, either would be useless.
		data, err := os.ReadFile(filepath.Join(resultsDir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			note("skipped %s: %v", name, err)
		default:
			files = append(files, transport.File{Name: name, Data: data})
		}
	}

	files = append(files, collectCases(resultsDir, maxRead, note)...)
	files = append(files, collectCoverage(resultsDir, maxRead, note)...)

	data, size, err := readTail(filepath.Join(resultsDir, layout.OutputFile), maxRead)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		note("skipped %s: %v", layout.OutputFile, err)
	default:
		if int64(len(data)) < size {
			note("%s: read the last %d of %d bytes", layout.OutputFile, len(data), size)
		}
		files = append(files, transport.File{Name: layout.OutputFile, Data: data})
	}

	files = append(files, collectArtifacts(resultsDir, maxRead, note)...)

	if len(notes) > 0 {
		logger.Warn("results incomplete", "notes", notes)
		files = append(files, transport.File{Name: transport.TruncatedFile, Data: []byte(strings.Join(notes, "\n") + "\n")})
	}
	return files
}

// collectArtifacts reads the artifacts the test wrote, each at most maxRead
// bytes. At most transport.MaxArtifactFiles files are looked at, and kept
// while they stay under transport.MaxArtifactBytes in all; the rest are
// counted, never read, and noted.
func collectArtifacts(resultsDir string, maxRead int, note func(string, ...any)) []transport.File {
	var files []transport.File
	artifactsName := strings.TrimPrefix(layout.ArtifactsDir, layout.ResultsDir+"/")
	root := filepath.Join(resultsDir, artifactsName)
	var seen, overCount int
	var kept int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return fs.SkipAll
		}
		rel, _ := filepath.Rel(root, p)
		name := path.Join(artifactsName, filepath.ToSlash(rel))
		if err == nil && d.IsDir() {
			return nil
		}
		if seen >= transport.MaxArtifactFiles {
			overCount++
			return nil
		}
		seen++
		switch {
		case err != nil:
			note("skipped %s: %v", name, err)
			return nil
		case !d.Type().IsRegular():
			note("skipped %s: not a regular file", name)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			note("skipped %s: %v", name, err)
			return nil
		}
		if info.Size() > int64(maxRead) {
			note("skipped %s (%d bytes): larger than the %d bytes read from any file", name, info.Size(), maxRead)
			return nil
		}
		if kept+info.Size() > transport.MaxArtifactBytes {
			note("skipped %s (%d bytes): the artifacts exceed %d bytes per test", name, info.Size(), transport.MaxArtifactBytes)
			return nil
		}
		data, err := readHead(p, int(min(int64(maxRead), transport.MaxArtifactBytes-kept)))
		if err != nil {
			note("skipped %s: %v", name, err)
			return nil
		}
		kept += int64(len(data))
		files = append(files, transport.File{Name: name, Data: data, Mode: info.Mode().Perm()})
		return nil
	})
	if err != nil {
		note("listing %s: %v", artifactsName, err)
	}
	if overCount > 0 {
		note("skipped %d artifact files over the limit of %d files per test", overCount, transport.MaxArtifactFiles)
	}
	return files
}

// maxEntry bounds one streamed test entry; the plugin cuts the texts inside
// it well below this.
const maxEntry = 1 << 20

// collectCases reads what the streaming plugin of a unit's pod wrote: one
// entry per finished test, the running test, and the test the shim timed
// out. An entry too large to read whole is left out, and its test counts as
// not finished.
func collectCases(resultsDir string, maxRead int, note func(string, ...any)) []transport.File {
	dir := filepath.Join(resultsDir, layout.CasesDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		note("listing %s: %v", layout.CasesDir, err)
		return nil
	}
	limit := min(maxRead, maxEntry)
	var files []transport.File
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		if name != layout.CurrentFile && name != layout.TimedOutFile && !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := readHead(filepath.Join(dir, name), limit+1)
		switch {
		case err != nil:
			note("skipped %s/%s: %v", layout.CasesDir, name, err)
		case len(data) > limit:
			note("skipped %s/%s: larger than %d bytes", layout.CasesDir, name, limit)
		default:
			files = append(files, transport.File{Name: layout.CasesDir + "/" + name, Data: data})
		}
	}
	return files
}

// collectCoverage reads the data files coverage.py wrote in the results
// (one per process, in parallel mode) and names them under
// transport.CoverageDir. A file too large to read whole is left out: cut
// short, it would be unreadable. The block never cuts them, so together
// they are bounded too, by maxRead.
func collectCoverage(resultsDir string, maxRead int, note func(string, ...any)) []transport.File {
	entries, err := os.ReadDir(resultsDir)
	if err != nil {
		return nil
	}
	var files []transport.File
	total := 0
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, coverage.DataPrefix+".") {
			continue
		}
		data, err := readHead(filepath.Join(resultsDir, name), maxRead+1)
		switch {
		case err != nil:
			note("skipped %s: %v", name, err)
		case len(data) > maxRead:
			note("skipped %s: larger than %d bytes", name, maxRead)
		case total+len(data) > maxRead:
			note("skipped %s: the coverage data files exceed %d bytes together", name, maxRead)
		default:
			total += len(data)
			files = append(files, transport.File{Name: transport.CoverageDir + "/" + name, Data: data})
		}
	}
	return files
}

// readHead reads at most limit bytes of a file.
func readHead(name string, limit int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)))
}

// readTail reads at most the last limit bytes of a file, and its size.
func readTail(name string, limit int) ([]byte, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if info.Size() > int64(limit) {
		if _, err := f.Seek(info.Size()-int64(limit), io.SeekStart); err != nil {
			return nil, 0, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)))
	return data, max(info.Size(), int64(len(data))), err
}

// readLinger reads the linger duration; anything unreadable means none.
func readLinger(name string) time.Duration {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if secs, err := strconv.Atoi(s); err == nil {
		return time.Duration(secs) * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}
