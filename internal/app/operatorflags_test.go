package app

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k8s-testrun/k8s-testrun/manifests"
)

// parseOperator runs the operator's command on args as execute does
// (doubleDash, then cobra), with a run that only keeps the flags.
func parseOperator(t *testing.T, args ...string) (operatorFlags, error) {
	t.Helper()
	var got operatorFlags
	var out bytes.Buffer
	env := Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	root := &cobra.Command{Use: "k8s-testrun", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(operatorCommand(env, func(_ context.Context, o operatorFlags, _ Env) error {
		got = o
		return nil
	}))
	root.SetArgs(doubleDash(root, append([]string{"operator"}, args...)))
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	return got, err
}

// TestOperatorTakesOneDashAndTwo: the operator's flags parse the same
// given as -flag (Go's flag package, which older Deployments were written
// for) or --flag.
func TestOperatorTakesOneDashAndTwo(t *testing.T) {
	want := operatorFlags{kubeconfig: "/k", watchNS: namespaceList{"a", "b"}, metrics: ":8443", insecureMetrics: true, probes: ":8081",
		leader: true, leaderNS: "lease", workers: 7, verbose: true, qps: 50, burst: 60}
	for _, dash := range []string{"-", "--"} {
		t.Run(dash, func(t *testing.T) {
			f := func(s string) string { return dash + s }
			got, err := parseOperator(t, f("kubeconfig"), "/k", f("watch-namespace=a"), f("watch-namespace"), "b", f("metrics-bind-address=:8443"),
				f("metrics-insecure"), f("health-probe-bind-address"), ":8081", f("leader-elect"), f("leader-election-namespace=lease"),
				f("workers"), "7", f("v"), f("kube-api-qps=50"), f("kube-api-burst"), "60")
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
	got, err := parseOperator(t, "-leader-elect=false", "-all-namespaces")
	require.NoError(t, err)
	assert.False(t, got.leader)
	assert.True(t, got.allNS)
	assert.Equal(t, 300.0, got.qps, "the default")

	_, err = parseOperator(t, "-workers", "many")
	assert.ErrorContains(t, err, `invalid argument "many" for "--workers" flag`)
	_, err = parseOperator(t, "-nonsense")
	assert.ErrorContains(t, err, "unknown shorthand flag: 'n' in -nonsense", "a name the operator does not know stays as given")
	_, err = parseOperator(t, "extra")
	assert.ErrorContains(t, err, `unknown command "extra"`)

	// Through the whole command line: the checks after parsing see the
	// single-dash values, and a bad one is exit code 2.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-kube-api-qps", "0"}, `k8s-testrun: --kube-api-qps "0": must be above 0, e.g. 300` + "\n"},
		{[]string{"-kube-api-burst=-3"}, `k8s-testrun: --kube-api-burst "-3": must be 1 or more, e.g. 600` + "\n"},
		{[]string{"-all-namespaces", "-watch-namespace", "a"}, "k8s-testrun: --all-namespaces and --watch-namespace exclude each other\n"},
	} {
		var out bytes.Buffer
		code := Run(context.Background(), append([]string{"operator"}, tc.args...), Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		assert.Equal(t, ExitInfra, code, "%q", tc.args)
		assert.Equal(t, tc.want, out.String())
	}
	var out bytes.Buffer
	assert.Equal(t, ExitOK, Run(context.Background(), []string{"operator", "-help"}, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}))
	assert.Contains(t, out.String(), "--leader-elect", "-help prints the usage")
}

// TestOperatorTakesTheManifestsArgs: the arguments of the operator's
// Deployment, in every overlay and scope, parse.
func TestOperatorTakesTheManifestsArgs(t *testing.T) {
	for _, tt := range []struct {
		overlay string
		scope   manifests.Scope
		all     bool
		watch   namespaceList
	}{
		{manifests.Default, manifests.Scope{}, false, namespaceList{"k8s-testrun-system"}},
		{manifests.Local, manifests.Scope{}, false, namespaceList{"k8s-testrun-system"}},
		{manifests.Default, manifests.Scope{ClusterWide: true}, true, nil},
		{manifests.Default, manifests.Scope{Namespaces: []string{"ci"}}, false, namespaceList{"k8s-testrun-system", "ci"}},
	} {
		t.Run(tt.overlay, func(t *testing.T) {
			objs, err := manifests.BuildScoped(tt.overlay, tt.scope)
			require.NoError(t, err)
			var args []string
			for _, o := range objs {
				if o.GetKind() == "Deployment" && o.GetName() == manifests.OperatorName {
					var d appsv1.Deployment
					require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d))
					args = d.Spec.Template.Spec.Containers[0].Args
				}
			}
			require.NotEmpty(t, args)
			for i, a := range args {
				// The kubelet expands $(POD_NAMESPACE).
				args[i] = strings.ReplaceAll(a, "$(POD_NAMESPACE)", "k8s-testrun-system")
			}
			got, err := parseOperator(t, args...)
			require.NoError(t, err, "%q", args)
			assert.True(t, got.leader, "%q", args)
			assert.Equal(t, tt.all, got.allNS)
			assert.Equal(t, tt.watch, got.watchNS)
			assert.NotEmpty(t, got.metrics)
		})
	}
}
