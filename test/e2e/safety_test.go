//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// TestCancelIsClean sends SIGTERM mid-run: every pod of the run is gone
// within 10 s, and a report is still written for what finished.
func TestCancelIsClean(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-cancel")
	ctx := Context(t, 5*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	// Wait until the fast test is collected while the slow ones run.
	cmd, stdout, wait := c.startUntil(ctx, t, "PASSED  tests/test_slow.py::test_fast ", append(c.runArgs(t, ns, report), Testdata("slow"))...)
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.LabelManagedBy + "=" + k8s.ManagedBy})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "the slow tests' pods run")

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	log := wait()
	exited := time.Since(start)
	t.Logf("stderr:\n%s\nstdout:\n%s", log, stdout.String())
	assert.Equal(t, 2, cmd.ProcessState.ExitCode(), "a cancelled run exits 2")
	assert.Less(t, exited, 10*time.Second, "the CLI exits within 10 s of SIGTERM")

	require.Eventually(t, func() bool {
		p, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.LabelManagedBy + "=" + k8s.ManagedBy})
		return err == nil && len(p.Items) == 0
	}, 10*time.Second-exited, 100*time.Millisecond, "all pods deleted within 10 s of SIGTERM")
	t.Logf("after SIGTERM: the CLI exited in %s, no pod left after %s", exited.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	cases := byKey(readReport(t, report))
	require.Len(t, cases, 3, "the report lists every test")
	fast := cases["tests.test_slow::test_fast"]
	assert.Nil(t, fast.Failure)
	assert.Nil(t, fast.Error, "the finished test keeps its result")
	slow := cases["tests.test_slow::test_slow_one"]
	require.NotNil(t, slow.Error)
	assert.Equal(t, "NotRun", slow.Error.Type)
}

// TestLeastPrivilege runs with a ServiceAccount token bound to a Role with
// only pods create/get/list/watch/delete and pods/log get; without create,
// the run stops before the build with an error that names the fix.
func TestLeastPrivilege(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-rbac")
	ctx := Context(t, 10*time.Minute)

	kubeconfig := c.serviceAccountKubeconfig(t, ns, "runner", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "watch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	})
	report := filepath.Join(t.TempDir(), "junit.xml")
	res := c.RunCLI(ctx, t, []string{"KUBECONFIG=" + kubeconfig}, append(c.runArgs(t, ns, report), Testdata("sample"))...)
	assert.Equal(t, 1, res.Exit, "tests ran and some failed")
	assert.Len(t, byKey(readReport(t, report)), 12)
	c.RequireNoRunPods(t, ns)

	readOnly := c.serviceAccountKubeconfig(t, ns, "reader", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
	})
	res = c.RunCLI(ctx, t, []string{"KUBECONFIG=" + readOnly}, append(c.runArgs(t, ns, report), Testdata("sample"))...)
	assert.Equal(t, 2, res.Exit)
	assert.Contains(t, lastLine(res.Stderr), "forbidden")
	assert.Contains(t, lastLine(res.Stderr), fmt.Sprintf("grant a Role in namespace %q", ns))
}

// TestNoServiceAccountToken runs a test that fails when its pod mounts a
// ServiceAccount token: by default no token is mounted; a pod template
// that asks for one gets it, which the same test then sees.
func TestNoServiceAccountToken(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-token")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")

	res := c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report), Testdata("token"))...)
	assert.Equal(t, 0, res.Exit, "no token in the test pod")
	assert.Len(t, byKey(readReport(t, report)), 1)

	tmpl := filepath.Join(t.TempDir(), "tmpl.yaml")
	require.NoError(t, os.WriteFile(tmpl, []byte("automountServiceAccountToken: true\n"), 0o644))
	res = c.RunCLI(ctx, t, nil, append(c.runArgs(t, ns, report, "--pod-template", tmpl), Testdata("token"))...)
	assert.Equal(t, 1, res.Exit, "the template mounts the token and the test sees it")
	assert.Contains(t, res.Stdout, "the pod mounts a ServiceAccount token")
	c.RequireNoRunPods(t, ns)
}

// serviceAccountKubeconfig makes a ServiceAccount bound to a Role with
// rules, and writes a kubeconfig that uses a token of it.
func (c *Cluster) serviceAccountKubeconfig(t *testing.T, ns, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := Context(t, time.Minute)
	_, err := c.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = c.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = c.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	tok, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptrInt64(3600)},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.caData(t)}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = "e2e"
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

func (c *Cluster) caData(t *testing.T) []byte {
	if len(c.Config.CAData) > 0 {
		return c.Config.CAData
	}
	b, err := os.ReadFile(c.Config.CAFile)
	require.NoError(t, err)
	return b
}

func ptrInt64(v int64) *int64 { return &v }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestBadInput checks that each kind of bad input gets one clear line that
// names the input and the fix, and the infrastructure exit code, distinct
// from "tests failed".
func TestBadInput(t *testing.T) {
	c := Connect(t)
	ns := c.NewNamespace(t, "e2e-input")
	ctx := Context(t, 10*time.Minute)
	report := filepath.Join(t.TempDir(), "junit.xml")
	garbage := filepath.Join(t.TempDir(), "garbage.kubeconfig")
	require.NoError(t, os.WriteFile(garbage, []byte("this: [is not a kubeconfig"), 0o600))

	tests := []struct {
		name    string
		env     []string
		args    []string
		project string
		want    []string
	}{
		{"missing project", nil, nil, "/nonexistent/project", []string{`project directory "/nonexistent/project"`, "give the path"}},
		{"no tests", nil, nil, Testdata("no-tests"), []string{"no tests found in", "add test_*.py files"}},
		{"collection error", nil, nil, Testdata("collect-error"), []string{"collect", "No module named 'module_that_does_not_exist'"}},
		{"bad kubeconfig", []string{"KUBECONFIG=" + garbage}, nil, Testdata("sample"), []string{"kubeconfig", garbage, "give a valid --kubeconfig"}},
		{"unknown namespace", nil, []string{"--namespace", "no-such-namespace-e2e"}, Testdata("sample"), []string{`"no-such-namespace-e2e"`, "create namespace"}},
		{"unreachable registry", nil, []string{"--repository", "127.0.0.1:1/e2e/unreachable"}, Testdata("sample"), []string{"registry 127.0.0.1:1 is unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(c.runArgs(t, ns, report), tt.args...)
			res := c.RunCLI(ctx, t, tt.env, append(args, tt.project)...)
			assert.Equal(t, 2, res.Exit)
			line := lastLine(res.Stderr)
			assert.True(t, strings.HasPrefix(line, "k8s-testrun: "), "one line from k8s-testrun: %q", line)
			for _, w := range tt.want {
				assert.Contains(t, line, w)
			}
			c.RequireNoRunPods(t, ns)
		})
	}
}
