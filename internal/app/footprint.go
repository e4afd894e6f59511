package app

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/history"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
)

// maxHashedFile bounds what is read of one project file to hash it.
const maxHashedFile = 64 << 20

// testFootprints gives each test the files its pods executed, from the
// coverage pod's footprints (by data file), with the SHA-256 of each
// file's contents in the project here. Only a run of one pod per test has
// footprints: a pod of several tests writes one data file for all of
// them, with no per-test contexts. A file the project here lacks (one a
// test wrote) is left out; nothing is read outside the project.
func testFootprints(cfg config.Config, fp map[string][]string, rep *report.Report) map[string]map[string]string {
	if len(fp) == 0 || (cfg.PodPer != "" && cfg.PodPer != config.PodPerTest) || cfg.Shards > 0 {
		return nil
	}
	root, err := os.OpenRoot(cfg.ProjectDir)
	if err != nil {
		return nil
	}
	defer root.Close()
	names := make([]string, 0, len(fp))
	for n := range fp {
		names = append(names, n)
	}
	sort.Strings(names)
	hashes := map[string]string{}
	hash := func(rel string) string {
		if h, ok := hashes[rel]; ok {
			return h
		}
		h := ""
		if f, err := root.Open(rel); err == nil {
			sum := sha256.New()
			if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
				if _, err := io.Copy(sum, io.LimitReader(f, maxHashedFile)); err == nil {
					h = hex.EncodeToString(sum.Sum(nil))
				}
			}
			f.Close()
		}
		hashes[rel] = h
		return h
	}
	out := map[string]map[string]string{}
	cases := rep.SummaryCases()
	for i, cr := range rep.Cases {
		files := map[string]string{}
		for _, at := range cr.Attempts {
			if at.Pod == "" {
				continue
			}
			prefix := coverage.DataPrefix + "." + at.Pod + "."
			for _, n := range names {
				if !strings.HasPrefix(n, prefix) {
					continue
				}
				for _, rel := range fp[n] {
					if len(files) == history.MaxFootprintFiles {
						break
					}
					if h := hash(rel); h != "" {
						files[rel] = h
					}
				}
			}
		}
		if len(files) > 0 {
			out[history.TestOf(cases[i]).ID] = files
		}
	}
	return out
}
