package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/leftover"
)

// options are the command-line flags shared by every verb.
type options struct {
	name    string
	dir     string
	podCIDR string
}

func defaultOptions() options {
	return options{name: "ktr", podCIDR: "10.88.0.0/16"}
}

func (o *options) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.name, "name", o.name, "cluster name; names the state directory, bridge and cgroup")
	fs.StringVar(&o.dir, "dir", o.dir, "state directory (default /var/lib/k8s-testrun/cluster/NAME)")
	fs.StringVar(&o.podCIDR, "pod-cidr", o.podCIDR, "IPv4 range for pod addresses; must not overlap the machine's networks")
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,9}[a-z0-9])?$`)

// Cluster is one named cluster on this machine: where its state lives and
// how the program talks to the user.
type Cluster struct {
	Name string
	// Dir holds every file of the cluster: certificates, configuration,
	// data, logs, pidfiles and the runtimes' state.
	Dir string
	// CacheDir holds what outlives any cluster: the Kubernetes binaries and
	// the Python root filesystem.
	CacheDir string
	// RepoDir is the repository checkout; hack/kube in it pins Kubernetes.
	RepoDir string
	PodCIDR netip.Prefix

	log *slog.Logger
	out io.Writer
}

func newCluster(o options, log *slog.Logger, out io.Writer) (*Cluster, error) {
	if !nameRE.MatchString(o.name) {
		return nil, fmt.Errorf("name %q: want 1-11 lowercase letters, digits or dashes", o.name)
	}
	dir := o.dir
	if dir == "" {
		dir = filepath.Join("/var/lib/k8s-testrun/cluster", o.name)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving dir: %w", err)
	}
	if dir == "/" {
		return nil, errors.New("dir must not be /")
	}
	cidr, err := netip.ParsePrefix(o.podCIDR)
	if err != nil || !cidr.Addr().Is4() || cidr.Bits() > 24 {
		return nil, fmt.Errorf("pod-cidr %q: want an IPv4 range of /24 or larger", o.podCIDR)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("finding cache dir: %w", err)
	}
	repo, err := findRepo()
	if err != nil {
		return nil, err
	}
	return &Cluster{
		Name:     o.name,
		Dir:      dir,
		CacheDir: filepath.Join(cache, "k8s-testrun"),
		RepoDir:  repo,
		PodCIDR:  cidr.Masked(),
		log:      log,
		out:      out,
	}, nil
}

// findRepo walks up from the working directory to the checkout that holds
// hack/kube, so the program works from any directory inside it.
func findRepo() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getting working directory: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "hack", "kube", "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no hack/kube/go.mod in %s or above: run inside the repository", wd)
		}
	}
}

// path joins elements below the cluster directory.
func (c *Cluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.Dir}, elem...)...)
}

// footprint says where this cluster can leave traces; see package leftover.
func (c *Cluster) footprint() leftover.Footprint {
	return leftover.Footprint{
		Dir:        c.Dir,
		CgroupRoot: "/k8s-testrun-" + c.Name,
		Network:    "k8s-testrun-" + c.Name,
		Bridge:     "ktr-" + c.Name,
		PodCIDR:    c.PodCIDR,
	}
}

func (c *Cluster) kubeconfigPath() string { return c.path("admin.kubeconfig") }
func (c *Cluster) envPath() string        { return c.path("env") }

// lock serialises up, down and status on one cluster directory.
func (c *Cluster) lock(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", c.Dir, err)
	}
	f, err := os.OpenFile(c.path("lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	for first := true; ; first = false {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		if first {
			c.log.Info("waiting for another command on this cluster to finish", "lock", f.Name())
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Ports are the loopback ports the cluster listens on. They are chosen when
// the cluster starts, preferring the usual ones, so that a system etcd or a
// second cluster on the machine does not stop this one.
type Ports struct {
	EtcdClient        int `json:"etcdClient"`
	EtcdPeer          int `json:"etcdPeer"`
	APIServer         int `json:"apiServer"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
	Kubelet           int `json:"kubelet"`
	KubeletHealthz    int `json:"kubeletHealthz"`
	Registry          int `json:"registry"`
}

// State is what a running cluster is: written by up, read by status, down
// and the next up.
type State struct {
	Ports       Ports  `json:"ports"`
	NodeName    string `json:"nodeName"`
	NodeIP      string `json:"nodeIP"`
	KubeVersion string `json:"kubeVersion"`
	KubeBinDir  string `json:"kubeBinDir"`
	PauseImage  string `json:"pauseImage"`
	BaseImage   string `json:"baseImage"`
	// MatrixBaseImage is a second Python base, of another Debian release
	// (another Python and pytest), for runtime-matrix tests.
	MatrixBaseImage string `json:"matrixBaseImage"`
	// KubernetesBaseImage is the machine's Python base with Debian's
	// python3-kubernetes client, for tests that call the API server.
	KubernetesBaseImage string    `json:"kubernetesBaseImage"`
	Started             time.Time `json:"started"`
}

func (s State) registry() string { return fmt.Sprintf("127.0.0.1:%d", s.Ports.Registry) }

func (c *Cluster) statePath() string { return c.path("cluster.json") }

// loadState returns the recorded state, or ok=false when there is none.
func (c *Cluster) loadState() (s State, ok bool, err error) {
	b, err := os.ReadFile(c.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("reading state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, false, fmt.Errorf("decoding state %s: %w", c.statePath(), err)
	}
	return s, true, nil
}

func (c *Cluster) saveState(s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	return writeFileAtomic(c.statePath(), append(b, '\n'), 0o644)
}

// choosePorts keeps each previous port that is free, else takes the usual
// one when free, else any free one.
func choosePorts(prev Ports) (Ports, error) {
	taken := map[int]bool{}
	pick := func(prevPort, usual int) (int, error) {
		for _, p := range []int{prevPort, usual} {
			if p > 0 && !taken[p] && portFree(p) {
				taken[p] = true
				return p, nil
			}
		}
		for range 20 {
			p, err := anyFreePort()
			if err != nil {
				return 0, err
			}
			if !taken[p] {
				taken[p] = true
				return p, nil
			}
		}
		return 0, errors.New("no free port found")
	}
	var out Ports
	var err error
	for _, x := range []struct {
		dst         *int
		prev, usual int
	}{
		{&out.EtcdClient, prev.EtcdClient, 2379},
		{&out.EtcdPeer, prev.EtcdPeer, 2380},
		{&out.APIServer, prev.APIServer, 6443},
		{&out.ControllerManager, prev.ControllerManager, 10257},
		{&out.Scheduler, prev.Scheduler, 10259},
		{&out.Kubelet, prev.Kubelet, 10250},
		{&out.KubeletHealthz, prev.KubeletHealthz, 10248},
		{&out.Registry, prev.Registry, 5001},
	} {
		if *x.dst, err = pick(x.prev, x.usual); err != nil {
			return out, fmt.Errorf("choosing ports: %w", err)
		}
	}
	return out, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func anyFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// nodeIdentity returns the node name (the hostname, which must resolve to
// an address of this machine so the API server reaches the kubelet by it)
// and the node IP (the first global IPv4 address outside the pod range:
// the kubelet refuses a loopback one).
func (c *Cluster) nodeIdentity() (name, ip string, err error) {
	host, err := os.Hostname()
	if err != nil {
		return "", "", fmt.Errorf("reading hostname: %w", err)
	}
	name = strings.ToLower(host)
	addrs, err := net.LookupHost(name)
	if err != nil || len(addrs) == 0 {
		return "", "", fmt.Errorf("hostname %q does not resolve; add it to /etc/hosts: %w", name, err)
	}
	local := false
	for _, a := range addrs {
		if l, err := net.Listen("tcp", net.JoinHostPort(a, "0")); err == nil {
			l.Close()
			local = true
			break
		}
	}
	if !local {
		return "", "", fmt.Errorf("hostname %q resolves to %v, none of them on this machine", name, addrs)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", "", fmt.Errorf("listing interfaces: %w", err)
	}
	fp := c.footprint()
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback != 0 || i.Flags&net.FlagUp == 0 || i.Name == fp.Bridge {
			continue
		}
		as, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			addr := pfx.Addr()
			if addr.Is4() && addr.IsGlobalUnicast() && !c.PodCIDR.Contains(addr) {
				return name, addr.String(), nil
			}
		}
	}
	return "", "", errors.New("no non-loopback global IPv4 address on this machine for the node IP")
}

// checkPodCIDR refuses a pod range that overlaps a route of the machine:
// pods would shadow real networks.
func (c *Cluster) checkPodCIDR() error {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return fmt.Errorf("reading routes: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 || fl[0] == c.footprint().Bridge {
			continue
		}
		dst, err1 := parseHexIPv4(fl[1])
		mask, err2 := parseHexIPv4(fl[7])
		if err1 != nil || err2 != nil || dst.IsUnspecified() {
			continue
		}
		bits := 0
		for _, b := range mask.As4() {
			for ; b != 0; b <<= 1 {
				bits++
			}
		}
		if route := netip.PrefixFrom(dst, bits); route.Overlaps(c.PodCIDR) {
			return fmt.Errorf("pod range %s overlaps route %s on %s; pick another with --pod-cidr", c.PodCIDR, route, fl[0])
		}
	}
	return sc.Err()
}

// parseHexIPv4 decodes /proc/net/route's little-endian hex addresses.
func parseHexIPv4(s string) (netip.Addr, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}), nil
}

// writeFileAtomic replaces path so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
