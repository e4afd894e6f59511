package app

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// In operator mode --pod-per and --shards become the TestRun's podPer and
// shards, which the operator groups the tests by.
func TestOperatorRunTakesPodPerAndShards(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		podPer string
		shards int32
	}{
		{nil, config.PodPerTest, 0},
		{[]string{"--pod-per", "file"}, "file", 0},
		{[]string{"--pod-per", "class"}, "class", 0},
		{[]string{"--shards", "3"}, config.PodPerTest, 3},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			args := append(append([]string{"--repository", "r.io/x", "--mode", "operator"}, tc.args...), dir)
			cfg, err := parseRun(args, func(string) string { return "" }, &strings.Builder{})
			require.NoError(t, err, "operator mode takes %v", tc.args)
			p := &pipeline{cfg: cfg, runID: "x-1", cluster: &k8s.Cluster{Namespace: "ns"}}
			run, err := p.testRun("img@sha256:1")
			require.NoError(t, err)
			assert.Equal(t, tc.podPer, run.Spec.PodPer)
			assert.Equal(t, tc.shards, run.Spec.Shards)
			assert.Equal(t, "k8s-testrun-durations-"+strings.ToLower(filepath.Base(dir)), run.Spec.DurationsConfigMap,
				"the project's durations are kept in its namespace")
		})
	}
}
