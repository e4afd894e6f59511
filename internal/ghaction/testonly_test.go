package ghaction

import (
	"os"
	"path/filepath"
)

// KubeconfigFiles reads the files a KUBECONFIG value names, so their
// secrets can be masked too; unreadable ones are skipped.
func KubeconfigFiles(kubeconfig string) [][]byte {
	var out [][]byte
	for _, p := range filepath.SplitList(kubeconfig) {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b)
		}
	}
	return out
}
