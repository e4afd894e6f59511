package coverage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// FootprintsFile is the second file of the coverage pod's block: for each
// data file, by its name, the files it measured, as coverage.py names them
// (absolute, in the image). With one pod per test, a pod's data file is
// that test's footprint.
const FootprintsFile = "footprints.json"

// MaxFootprints bounds the footprints taken from the coverage pod, and
// what the pod keeps of its child's output for them.
const MaxFootprints = 32 << 20

// footprintScript lists each data file's measured files with coverage.py's
// own reader, in the coverage pod, where coverage.py is.
const footprintScript = `import json, os, sys
from coverage import CoverageData
out = {}
for p in sys.argv[1:]:
    d = CoverageData(basename=p)
    d.read()
    out[os.path.basename(p)] = sorted(d.measured_files())
json.dump(out, sys.stdout)
`

// footprints runs footprintScript, written beside dir, over the data files
// in dir. It must run before coverage combine, which deletes them.
func footprints(ctx context.Context, python, workDir string, env []string, dir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, DataPrefix+".*"))
	if err != nil || len(files) == 0 {
		return nil, err
	}
	script := filepath.Join(filepath.Dir(dir), "footprints.py")
	if err := os.WriteFile(script, []byte(footprintScript), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, python, append([]string{script}, files...)...)
	cmd.Dir, cmd.Env = workDir, env
	cmd.WaitDelay = 5 * time.Second
	out := &transport.Bounded{Max: MaxFootprints}
	tail := transport.NewTail(maxChildOutput)
	cmd.Stdout, cmd.Stderr = out, tail
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("listing the data files' measured files: %w: %s", err, lastLine(tail.String()))
	}
	if out.Cut() {
		return nil, fmt.Errorf("the measured files' list is larger than %d MiB", MaxFootprints>>20)
	}
	return out.Bytes(), nil
}

// encodeWithFootprints prints the report and, when they fit beside it in
// the block, the footprints: the report comes first.
func encodeWithFootprints(xml, fp []byte, limit int) ([]byte, error) {
	var buf bytes.Buffer
	files := []transport.File{{Name: ReportFile, Data: xml}}
	if len(fp) > 0 {
		if err := transport.Encode(&buf, append(files, transport.File{Name: FootprintsFile, Data: fp}), limit); err != nil {
			return nil, err
		}
		if got, err := transport.DecodeLimits(bytes.NewReader(buf.Bytes()), transport.Limits{Block: int64(limit), File: MaxReport}); err == nil && hasFile(got, ReportFile) {
			return buf.Bytes(), nil
		}
		buf.Reset()
	}
	if err := transport.Encode(&buf, files, limit); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hasFile(files []transport.File, name string) bool {
	for _, f := range files {
		if f.Name == name {
			return true
		}
	}
	return false
}

// ReadFootprints takes the footprints from the coverage pod's log: for
// each data file's name, the files (in the image) it measured, only those
// under workDir, relative to it. No footprints (an older pod, or too many
// for the block) is an empty map. The names are the pod's: data only.
func ReadFootprints(log []byte, workDir string) (map[string][]string, error) {
	files, err := transport.DecodeLimits(bytes.NewReader(log), transport.Limits{Block: BlockLimit, File: MaxFootprints})
	if err != nil {
		return nil, fmt.Errorf("reading the coverage pod's footprints: %w", err)
	}
	out := map[string][]string{}
	for _, f := range files {
		if f.Name != FootprintsFile {
			continue
		}
		var raw map[string][]string
		if err := json.Unmarshal(f.Data, &raw); err != nil {
			return nil, fmt.Errorf("reading the coverage pod's footprints: %w", err)
		}
		prefix := strings.TrimSuffix(workDir, "/") + "/"
		for data, measured := range raw {
			var rel []string
			for _, m := range measured {
				r, ok := strings.CutPrefix(m, prefix)
				if !ok || r == "" || !filepath.IsLocal(r) {
					continue
				}
				rel = append(rel, filepath.ToSlash(filepath.Clean(r)))
			}
			out[data] = rel
		}
	}
	return out, nil
}
