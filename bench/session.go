package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// The environment variables that name the cluster, as for the e2e tests.
const (
	EnvKubeconfig = "KUBECONFIG"
	EnvRegistry   = "K8S_TESTRUN_REGISTRY"
	EnvBaseImage  = "K8S_TESTRUN_BASE_IMAGE"
)

// LabelBench marks every object a benchmark creates, with the session's id.
const LabelBench = "k8s-testrun.io/bench"

// cleanupTimeout bounds the deletion of what a session created.
const cleanupTimeout = 2 * time.Minute

// Session is the cluster, a namespace of its own and what the benchmarks
// share: the binary and the images built from it.
type Session struct {
	ID         string
	Cluster    *k8s.Cluster
	Kubeconfig string
	Namespace  string
	Registry   string
	BaseImage  string
	// Binary is the CLI; PodBinary, beside it, is what test images carry.
	Binary        string
	PodBinary     string
	ServerVersion string
	// Native says whether test pods get a native sidecar, as the CLI
	// decides by default.
	Native bool
	Dir    string
	Out    io.Writer
	Log    *slog.Logger

	images map[int]trivialImage
	// realSuite, once built; runs keeps the verdicts of the real-suite
	// benchmarks' runs for the fidelity check.
	realSuite *RealSuite
	// longSuiteRS is B6AL's suite, once built.
	longSuiteRS *RealSuite
	runs        suiteRuns
	// flowSchema and kwokNode are cluster-scoped objects of the session.
	flowSchema string
	kwokNode   string
	kwokNodes  []string
}

type trivialImage struct {
	image string
	ids   []string
}

// NewSession connects to the cluster the environment names and creates the
// session's namespace. Close deletes it.
func NewSession(ctx context.Context, getenv func(string) string, binary string, out io.Writer, log *slog.Logger) (*Session, error) {
	var missing []string
	get := func(k string) string {
		v := getenv(k)
		if v == "" {
			missing = append(missing, k)
		}
		return v
	}
	kubeconfig, registry, base := get(EnvKubeconfig), get(EnvRegistry), get(EnvBaseImage)
	if len(missing) > 0 {
		return nil, fmt.Errorf("the benchmarks need a cluster: set %s (for the local cluster: make cluster-up, then eval \"$(make -s e2e-env)\")",
			strings.Join(missing, ", "))
	}
	cluster, err := k8s.Connect(k8s.ClientOptions{Kubeconfig: kubeconfig})
	if err != nil {
		return nil, err
	}
	info, err := cluster.Client.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("cluster %s is unreachable: %w", cluster.Config.Host, err)
	}
	native, err := k8s.SupportsNativeSidecars(ctx, cluster.Client)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "k8s-testrun-bench-")
	if err != nil {
		return nil, err
	}
	s := &Session{
		ID: randomID(), Cluster: cluster, Kubeconfig: kubeconfig, Registry: registry, BaseImage: base,
		ServerVersion: info.GitVersion, Native: native, Dir: dir, Out: out, Log: log,
		images: map[int]trivialImage{},
	}
	if s.Binary, s.PodBinary, err = s.binaries(ctx, binary); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.createNamespace(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close deletes the namespace (after its pods, so that none waits for a
// kubelet) and the session's files.
func (s *Session) Close() {
	defer os.RemoveAll(s.Dir)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	s.deleteFlowSchema(ctx)
	if s.Namespace == "" {
		s.deleteKwokNode(ctx)
		return
	}
	if _, err := k8s.DeleteSelected(ctx, s.Cluster.Client, s.Namespace, "", ptr.To(int64(0))); err != nil {
		s.Log.Warn("deleting the benchmark pods", "namespace", s.Namespace, "error", err)
	}
	s.deleteKwokNode(ctx)
	err := s.Cluster.Client.CoreV1().Namespaces().Delete(ctx, s.Namespace, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		s.Log.Warn("deleting the benchmark namespace", "namespace", s.Namespace, "error", err)
		return
	}
	s.Log.Debug("deleted namespace", "namespace", s.Namespace)
}

func (s *Session) createNamespace(ctx context.Context) error {
	name := "ktr-bench-" + s.ID
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelBench: s.ID}}}
	if _, err := s.Cluster.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	s.Namespace = name
	// Pods cannot be created before the namespace's default service account.
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := s.Cluster.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			return fmt.Errorf("waiting for the default service account of %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// binaries returns the k8s-testrun CLI and, beside it, the pod binary that
// test images carry, building both for the node's architecture when none
// is given.
func (s *Session) binaries(ctx context.Context, given string) (string, string, error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", "", fmt.Errorf("-binary: %w (run make build)", err)
		}
		cli, err := filepath.Abs(given)
		if err != nil {
			return "", "", err
		}
		pod := filepath.Join(filepath.Dir(cli), layout.PodBinaryName)
		if _, err := os.Stat(pod); err != nil {
			return "", "", fmt.Errorf("-binary: no %s beside it: %w (run make build, which builds both)", layout.PodBinaryName, err)
		}
		return cli, pod, nil
	}
	cli, pod := filepath.Join(s.Dir, "k8s-testrun"), filepath.Join(s.Dir, layout.PodBinaryName)
	for out, pkg := range map[string]string{cli: "cmd/action", pod: "cmd/" + layout.PodBinaryName} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "github.com/k8s-testrun/k8s-testrun/"+pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		cmd.Stderr = os.Stderr
		s.Log.Info("building the k8s-testrun binaries", "package", pkg)
		if err := cmd.Run(); err != nil {
			return "", "", fmt.Errorf("building %s: %w (or give -binary)", pkg, err)
		}
	}
	return cli, pod, nil
}

// TrivialImage builds, once per n, the test image of a project with n
// trivial tests, and returns it with the test ids.
func (s *Session) TrivialImage(ctx context.Context, n int) (string, []string, error) {
	if im, ok := s.images[n]; ok {
		return im.image, im.ids, nil
	}
	dir := filepath.Join(s.Dir, fmt.Sprintf("trivial-%d", n))
	ids, err := WriteTrivialProject(dir, n)
	if err != nil {
		return "", nil, err
	}
	res, err := s.build(ctx, dir, "trivial")
	if err != nil {
		return "", nil, err
	}
	s.images[n] = trivialImage{image: res.Image, ids: ids}
	return res.Image, ids, nil
}

func (s *Session) build(ctx context.Context, dir, repo string) (build.Result, error) {
	return s.buildWith(ctx, dir, repo, s.PodBinary)
}

func (s *Session) buildWith(ctx context.Context, dir, repo, binary string) (build.Result, error) {
	res, err := build.Build(ctx, build.Options{
		ProjectDir: dir,
		Repository: s.Registry + "/ktr-bench/" + repo,
		BaseImage:  s.BaseImage,
		Binary:     binary,
		Platform:   platform(),
		Logger:     s.Log.With("component", "build"),
	})
	if err != nil {
		return res, fmt.Errorf("building %s: %w", dir, err)
	}
	return res, nil
}

func platform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// cleanRun deletes the pods of one run and waits for them to go.
func (s *Session) cleanRun(ctx context.Context, runID string) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	sel := k8s.RunSelector(runID)
	_, err := k8s.DeleteSelected(cctx, s.Cluster.Client, s.Namespace, sel, ptr.To(int64(0)))
	return errors.Join(err, k8s.WaitGone(cctx, s.Cluster.Client, s.Namespace, sel))
}

// settle waits d, or until ctx ends.
func settle(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func randomID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRunID is a run id as the CLI makes them, 8 hex digits.
func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
