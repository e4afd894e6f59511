package app

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// PodBinaryEnv names the environment variable that gives the pod binary
// when --binary does not.
const PodBinaryEnv = "K8S_TESTRUN_POD_BINARY"

// podBinary is the binary the test image carries, k8s-testrun-pod: the one
// given, else $K8S_TESTRUN_POD_BINARY, else the one beside this executable,
// where `make build` and the action's image put it.
func podBinary(given string, env Env) (string, error) {
	if given != "" {
		return given, nil
	}
	if p := env.Getenv(PodBinaryEnv); p != "" {
		return p, nil
	}
	self, err := env.Executable()
	if err != nil {
		return "", fmt.Errorf("locating the k8s-testrun binary, beside which %s is looked for: %w (give --binary)", layout.PodBinaryName, err)
	}
	p := filepath.Join(filepath.Dir(self), layout.PodBinaryName)
	if info, err := os.Stat(p); err != nil || !info.Mode().IsRegular() {
		return "", fmt.Errorf("no pod binary at %s (%s is looked for beside k8s-testrun): run `make build`, which builds both, or give --binary or $%s", p, layout.PodBinaryName, PodBinaryEnv)
	}
	return p, nil
}
