//go:build e2eaction

// Package action runs the action the way GitHub's runner runs a Docker
// container action, under a real Docker engine (hack/docker) against the
// local cluster (hack/cluster): `docker build` of the repository's
// Dockerfile on local stand-ins for its base images, then `docker run` with
// the runner's flags, mounts and environment on a user-defined network
// github_network_<id>, against a recording fake of the GitHub API.
//
// The cluster is reached as a kind cluster is from a workflow: a Docker
// network named kind, on which a container named <cluster>-control-plane
// relays to the API server and one named kind-registry to the cluster's
// registry, and kube-public/local-registry-hosting advertising it. The
// kubeconfig given to the action is kind's (context kind-<cluster>, server
// on 127.0.0.1); the action joins the kind network and rewrites the server
// on its own. The relays are the one stand-in: kind's node and registry
// are containers themselves, the local cluster's run on the host.
package action

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
	"github.com/k8s-testrun/k8s-testrun/internal/kind"
	"github.com/k8s-testrun/k8s-testrun/test/support"
)

const (
	dockerBin    = "/usr/bin/docker"
	clusterEnv   = "/var/lib/k8s-testrun/cluster/ktr/env"
	dockerEnv    = "/var/lib/k8s-testrun/docker/env"
	actionImage  = "k8s-testrun-action:e2e"
	helperImage  = "k8s-testrun-relay:e2e"
	goStandIn    = "k8s-testrun-standin/golang:1.26"
	debianStand  = "k8s-testrun-standin/debian:bookworm-slim"
	testLabel    = "k8s-testrun.io/e2e-action=true"
	kindNetwork  = "kind"
	clusterName  = "ktr"
	hostingLabel = "k8s-testrun.io/e2e"
)

// suite is what every test shares: the engine, the cluster and the image.
type suite struct {
	dockerHost string
	// kubeconfig is kind's: context kind-<cluster>, server on loopback.
	kubeconfig []byte
	client     kubernetes.Interface
	// registry is the cluster's registry as the nodes pull from it;
	// baseImage the Python base image there.
	registry, baseImage string
	// registryConns counts connections relayed to the registry from the
	// kind network: pushes through kind-registry.
	registryConns atomic.Int64
	buildTook     time.Duration
}

var s *suite

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	var cleanups []func()
	s = &suite{}
	err := s.setUp(ctx, &cleanups)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/action: setting up:", err)
	} else {
		code = m.Run()
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cancel()
	os.Exit(code)
}

// readEnvFile sets the variables of an env file that the environment does
// not set already.
func readEnvFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") || os.Getenv(k) != "" {
			continue
		}
		os.Setenv(k, v)
	}
	return nil
}

func (s *suite) setUp(ctx context.Context, cleanups *[]func()) error {
	if os.Getenv(kindEnvVar) != "" {
		return s.setUpKind(ctx)
	}
	if err := readEnvFile(clusterEnv); err != nil && os.Getenv("KUBECONFIG") == "" {
		return fmt.Errorf("no cluster: %w; run make cluster-up", err)
	}
	if err := readEnvFile(dockerEnv); err != nil && os.Getenv("DOCKER_HOST") == "" {
		return fmt.Errorf("no Docker engine: %w; run make docker-up", err)
	}
	s.dockerHost = os.Getenv("DOCKER_HOST")
	s.registry, s.baseImage = os.Getenv("K8S_TESTRUN_REGISTRY"), os.Getenv("K8S_TESTRUN_BASE_IMAGE")
	if s.registry == "" || s.baseImage == "" {
		return fmt.Errorf("K8S_TESTRUN_REGISTRY and K8S_TESTRUN_BASE_IMAGE must be set (see %s)", clusterEnv)
	}
	admin, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
	if err != nil {
		return fmt.Errorf("loading KUBECONFIG: %w", err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*admin, nil).ClientConfig()
	if err != nil {
		return err
	}
	if s.client, err = kubernetes.NewForConfig(rc); err != nil {
		return err
	}

	if err := s.buildActionImage(ctx); err != nil {
		return err
	}
	return s.kindTopology(ctx, admin, cleanups)
}

// buildActionImage builds the action's image with `docker build`, as the
// runner does, on the stand-ins for its base images.
func (s *suite) buildActionImage(ctx context.Context) error {
	start := time.Now()
	if err := buildStandIns(ctx); err != nil {
		return err
	}
	standIns := time.Since(start)
	start = time.Now()
	if _, err := docker(ctx, nil, "build",
		"--build-arg", "GO_IMAGE="+goStandIn, "--build-arg", "RUNTIME_IMAGE="+debianStand,
		"-t", actionImage, "-f", filepath.Join(support.RepoRoot(), "Dockerfile"), support.RepoRoot()); err != nil {
		return err
	}
	s.buildTook = time.Since(start)
	fmt.Fprintf(os.Stderr, "test/action: stand-in base images ready in %s; docker build of the Dockerfile took %s\n",
		standIns.Round(time.Second), s.buildTook.Round(time.Second))
	return nil
}

// buildStandIns makes golang:1.26 and debian:bookworm-slim stand-ins: the
// cluster's debootstrap root filesystem (cached by hack/cluster), the
// machine's CA bundle, and for Go the machine's toolchain and proxy.
func buildStandIns(ctx context.Context) error {
	home, _ := os.UserHomeDir()
	codename, err := rootfs.OSCodename()
	if err != nil {
		return err
	}
	tarPath, err := rootfs.Build(ctx, filepath.Join(home, ".cache", "k8s-testrun"),
		rootfs.Recipe{Name: "python", Codename: codename, Packages: rootfs.PythonPackages}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	base := "k8s-testrun-standin/rootfs:" + strings.TrimSuffix(filepath.Base(tarPath), ".tar.gz")
	if _, err := docker(ctx, nil, "image", "inspect", base); err != nil {
		if _, err := docker(ctx, nil, "import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", tarPath, base); err != nil {
			return err
		}
	}
	caDir, err := os.MkdirTemp("", "standin-ca-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(caDir)
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		return fmt.Errorf("the stand-ins need the machine's CA bundle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(caDir, "ca-certificates.crt"), ca, 0o644); err != nil {
		return err
	}
	debian := fmt.Sprintf("FROM %s\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\nLABEL org.k8s-testrun.stand-in-for=debian:bookworm-slim\n", base)
	if _, err := docker(ctx, strings.NewReader(debian), "build", "-q", "-t", debianStand, "-f", "-", caDir); err != nil {
		return err
	}
	goEnv := map[string]string{}
	for _, k := range []string{"GOROOT", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOINSECURE"} {
		out, err := exec.CommandContext(ctx, "go", "env", k).Output()
		if err != nil {
			return fmt.Errorf("go env %s: %w", k, err)
		}
		goEnv[k] = strings.TrimSpace(string(out))
	}
	golang := fmt.Sprintf("FROM %s\nCOPY . /usr/local/go\n"+
		"ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOPATH=/go GOTOOLCHAIN=local "+
		"GOPROXY=%q GOSUMDB=%q GONOSUMDB=%q GOPRIVATE=%q GOINSECURE=%q\n"+
		"LABEL org.k8s-testrun.stand-in-for=golang:1.26\n",
		debianStand, goEnv["GOPROXY"], goEnv["GOSUMDB"], goEnv["GONOSUMDB"], goEnv["GOPRIVATE"], goEnv["GOINSECURE"])
	_, err = docker(ctx, strings.NewReader(golang), "build", "-q", "-t", goStandIn, "-f", "-", goEnv["GOROOT"])
	return err
}

// kindTopology makes the kind network with its control-plane and registry
// containers, advertises the registry in local-registry-hosting and writes
// kind's kubeconfig for the action.
func (s *suite) kindTopology(ctx context.Context, admin *clientcmdapi.Config, cleanups *[]func()) error {
	if err := relayImage(ctx); err != nil {
		return err
	}
	controlPlane, registryName := clusterName+"-control-plane", strings.Split(kind.ConventionalRegistry, ":")[0]
	// A run that was killed leaves these behind; start clean.
	_, _ = docker(ctx, nil, "rm", "-f", controlPlane, registryName)
	_, _ = docker(ctx, nil, "network", "rm", kindNetwork)
	if _, err := docker(ctx, nil, "network", "create", "--label", testLabel, kindNetwork); err != nil {
		return err
	}
	*cleanups = append(*cleanups, func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = docker(cctx, nil, "rm", "-f", controlPlane, registryName)
		if _, err := docker(cctx, nil, "network", "rm", kindNetwork); err != nil {
			fmt.Fprintln(os.Stderr, "test/action: removing the kind network:", err)
		}
	})
	gw, err := gateway(ctx, kindNetwork)
	if err != nil {
		return err
	}
	server, err := url.Parse(admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster].Server)
	if err != nil {
		return err
	}
	var apiConns atomic.Int64
	for _, r := range []struct {
		target string
		conns  *atomic.Int64
	}{{server.Host, &apiConns}, {s.registry, &s.registryConns}} {
		_, port, _ := net.SplitHostPort(r.target)
		l, err := net.Listen("tcp", net.JoinHostPort(gw, port))
		if err != nil {
			return fmt.Errorf("relaying %s to the kind network: %w", r.target, err)
		}
		*cleanups = append(*cleanups, func() { l.Close() })
		go relay(l, r.target, r.conns)
	}
	_, apiPort, _ := net.SplitHostPort(server.Host)
	_, regPort, _ := net.SplitHostPort(s.registry)
	for _, c := range []struct{ name, listen, target string }{
		{controlPlane, ":6443", net.JoinHostPort(gw, apiPort)},
		{registryName, ":5000", net.JoinHostPort(gw, regPort)},
	} {
		if _, err := docker(ctx, nil, "run", "-d", "--name", c.name, "--label", testLabel, "--network", kindNetwork, helperImage, c.listen, c.target); err != nil {
			return err
		}
	}

	// kind's kubeconfig: the cluster, user and context named kind-<cluster>,
	// the server where kind publishes it on the machine.
	kc := clientcmdapi.NewConfig()
	name := "kind-" + clusterName
	cur := admin.Contexts[admin.CurrentContext]
	kc.Clusters[name] = admin.Clusters[cur.Cluster].DeepCopy()
	kc.AuthInfos[name] = admin.AuthInfos[cur.AuthInfo].DeepCopy()
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	// A cluster brought up before its certificate named the control-plane
	// node is reached under a name the certificate has.
	if names, err := servingNames(server.Host); err == nil && !slices.Contains(names, controlPlane) {
		fmt.Fprintf(os.Stderr, "test/action: the API server's certificate does not name %s (it names %v): the kubeconfig says tls-server-name: localhost\n", controlPlane, names)
		kc.Clusters[name].TLSServerName = "localhost"
	}
	if s.kubeconfig, err = clientcmd.Write(*kc); err != nil {
		return err
	}

	// As kind's local registry guide and helm/kind-action write it: the
	// nodes pull by kind-registry:5000, which this cluster's containerd
	// mirrors to its own registry (hack/cluster).
	cms := s.client.CoreV1().ConfigMaps(kind.HostingNamespace)
	_, err = cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: kind.HostingConfigMap, Namespace: kind.HostingNamespace, Labels: map[string]string{hostingLabel: "true"}},
		Data:       map[string]string{kind.HostingKey: fmt.Sprintf("host: \"localhost:%s\"\nhostFromContainerRuntime: %q\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n", regPort, kindRegistry)},
	}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("ConfigMap %s/%s exists already: the cluster advertises a registry of its own, or another test holds it", kind.HostingNamespace, kind.HostingConfigMap)
	}
	if err != nil {
		return err
	}
	*cleanups = append(*cleanups, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cms.Delete(cctx, kind.HostingConfigMap, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintln(os.Stderr, "test/action: deleting the local-registry-hosting ConfigMap:", err)
		}
	})
	return nil
}

// relayImage imports an image holding only hack/docker, whose forward verb
// relays TCP: the stand-in for kind's node and registry containers.
func relayImage(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "relay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "hack-docker")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./hack/docker")
	build.Dir, build.Env = support.RepoRoot(), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building hack/docker: %w\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "hack-docker", Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(b); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err = docker(ctx, &buf, "import", "--change", `ENTRYPOINT ["/hack-docker", "forward"]`, "-", helperImage)
	return err
}

func relay(l net.Listener, target string, conns *atomic.Int64) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer c.Close()
			t, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer t.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(t, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, t); done <- struct{}{} }()
			<-done
		}()
	}
}

// servingNames are the DNS names in the certificate served at addr.
func servingNames(addr string) ([]string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the names
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].DNSNames, nil
}

// gateway is the address of the machine on a Docker network.
func gateway(ctx context.Context, network string) (string, error) {
	out, err := docker(ctx, nil, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", network)
	if err != nil {
		return "", err
	}
	gw := strings.TrimSpace(string(out))
	if net.ParseIP(gw) == nil {
		return "", fmt.Errorf("network %s has no gateway address: %q", network, gw)
	}
	return gw, nil
}

// docker runs Debian's docker client against the engine of hack/docker.
func docker(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, dockerBin, args...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, lastLines(stderr.String()+string(out), 30))
	}
	return out, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
