package discover

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCoveragePython collects one test, as pytest would, and answers the
// coverage check with $COVERAGE_VERSION, failing like a Python without the
// module when it is unset.
func fakeCoveragePython(t *testing.T) string {
	t.Helper()
	python := filepath.Join(t.TempDir(), "python")
	script := `#!/bin/sh
if [ "$1" = "-c" ]; then
  [ -n "$COVERAGE_VERSION" ] || { echo "ModuleNotFoundError: No module named 'coverage'" >&2; exit 1; }
  echo "$COVERAGE_VERSION"
  exit 0
fi
echo "tests/test_a.py::test_a"
echo
echo "1 test collected in 0.01s"
for a in "$@"; do
  case "$a" in --junitxml=*) printf '%s' '<testsuites/>' > "${a#--junitxml=}" ;; esac
done
`
	require.NoError(t, os.WriteFile(python, []byte(script), 0o755))
	return python
}

func TestCollectChecksCoverage(t *testing.T) {
	python := fakeCoveragePython(t)
	for _, tt := range []struct {
		name  string
		check bool
		env   []string
		want  string
	}{
		{"has coverage", true, []string{"COVERAGE_VERSION=6.5.0"}, "6.5.0"},
		{"has none", true, nil, ""},
		{"not asked", false, []string{"COVERAGE_VERSION=6.5.0"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			code, err := Collect(context.Background(), nil, &stdout, &bytes.Buffer{}, CollectOptions{Python: python, Env: tt.env, CheckCoverage: tt.check})
			require.NoError(t, err)
			got, err := ParseLog(stdout.Bytes(), code)
			require.NoError(t, err)
			assert.Equal(t, []string{"tests/test_a.py::test_a"}, got.IDs)
			assert.Equal(t, tt.want, got.Coverage)
		})
	}
}

func TestWithCoverageCheck(t *testing.T) {
	argv := WithCoverageCheck(Command("/bin/k8s-testrun", []string{"tests/"}))
	assert.Equal(t, []string{"/bin/k8s-testrun", "shim", "--results", Results, "--",
		"/bin/k8s-testrun", "collect", CoverageFlag, "--"}, argv[:9])
	assert.Equal(t, "tests/", argv[len(argv)-1])
	assert.Equal(t, len(Command("/bin/k8s-testrun", []string{"tests/"}))+1, len(argv))
}
