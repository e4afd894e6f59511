// Package engine starts and stops a Docker engine of the project's own:
// dockerd on its own socket, exec root, pidfile and default bridge, with
// user-defined networks from its own address pool, so that down can remove
// all it added and a test can check that nothing of it remains.
package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/leftover"
)

const (
	// DefaultDir holds the engine's runtime state, pidfile and log.
	DefaultDir = "/var/lib/k8s-testrun/docker"
	// DefaultSocket is where dockerd listens; DOCKER_HOST=unix://<it>.
	DefaultSocket = "/run/k8s-testrun-docker.sock"
	// Bridge is the default bridge, created by up and named so that no
	// other bridge on the machine is taken for it.
	Bridge = "ktr-docker0"
	// dockerBinary is Debian's client, not another one earlier on PATH.
	dockerBinary  = "/usr/bin/docker"
	dockerdBinary = "/usr/sbin/dockerd"
)

var (
	// BridgeAddr is the default bridge's address and subnet.
	BridgeAddr = netip.MustParsePrefix("172.31.254.1/24")
	// Pool is where user-defined networks take their subnets from.
	Pool = netip.MustParsePrefix("172.30.0.0/16")
)

// Engine is one dockerd. Dir keeps the exec root, pidfile and log; the data
// root (images, build cache) lives in DataRoot and survives down.
type Engine struct {
	Dir      string
	Socket   string
	DataRoot string
	Log      *slog.Logger
	Out      io.Writer
}

// New returns the engine at the default places.
func New(log *slog.Logger, out io.Writer) *Engine {
	home, _ := os.UserHomeDir()
	return &Engine{
		Dir:      DefaultDir,
		Socket:   DefaultSocket,
		DataRoot: filepath.Join(home, ".cache", "k8s-testrun", "docker"),
		Log:      log,
		Out:      out,
	}
}

func (e *Engine) pidfile() string  { return filepath.Join(e.Dir, "dockerd.pid") }
func (e *Engine) execRoot() string { return filepath.Join(e.Dir, "exec") }
func (e *Engine) logfile() string  { return filepath.Join(e.Dir, "dockerd.log") }

// EnvFile is where up writes DOCKER_HOST for the tests.
func (e *Engine) EnvFile() string { return filepath.Join(e.Dir, "env") }

// Host is the DOCKER_HOST value of the engine.
func (e *Engine) Host() string { return "unix://" + e.Socket }

// Docker runs Debian's docker client against the engine.
func (e *Engine) Docker(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, dockerBinary, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Up installs docker.io when missing and starts dockerd, or reuses the one
// that answers.
func (e *Engine) Up(ctx context.Context) error {
	if err := installDockerIO(ctx, e.Log); err != nil {
		return err
	}
	if pid, ok := e.pid(); ok && e.ping(ctx) == nil {
		fmt.Fprintf(e.Out, "dockerd runs already, pid %d; DOCKER_HOST=%s\n", pid, e.Host())
		return nil
	}
	for _, d := range []string{e.Dir, e.execRoot(), e.DataRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := ensureBridge(ctx); err != nil {
		return err
	}
	logf, err := os.OpenFile(e.logfile(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("opening dockerd log: %w", err)
	}
	defer logf.Close()
	runtime, err := e.installRuntimeWrapper()
	if err != nil {
		return fmt.Errorf("installing the runtime wrapper: %w", err)
	}
	cmd := exec.Command(dockerdBinary,
		"--add-runtime", RuntimeName+"="+runtime,
		"--default-runtime", RuntimeName,
		"--host", e.Host(),
		"--data-root", e.DataRoot,
		"--exec-root", e.execRoot(),
		"--pidfile", e.pidfile(),
		"--bridge", Bridge,
		"--default-address-pool", "base="+Pool.String()+",size=24",
		"--group", "root",
	)
	cmd.Dir = e.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		if e.ping(ctx) == nil {
			break
		}
		select {
		case err := <-exited:
			return fmt.Errorf("dockerd exited at start: %v\n%s", err, tailFile(e.logfile(), 15))
		case <-deadline:
			return fmt.Errorf("dockerd did not answer on %s within 60s\n%s", e.Socket, tailFile(e.logfile(), 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	env := fmt.Sprintf("# Written by `go run ./hack/docker up`.\nDOCKER_HOST=%s\nK8S_TESTRUN_DOCKER_DIR=%s\n", e.Host(), e.Dir)
	if err := os.WriteFile(e.EnvFile(), []byte(env), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", e.EnvFile(), err)
	}
	e.Log.Info("dockerd is up", "pid", cmd.Process.Pid, "took", time.Since(start).Round(100*time.Millisecond), "socket", e.Socket, "log", e.logfile())
	fmt.Fprintf(e.Out, "dockerd runs, pid %d; DOCKER_HOST=%s (env file %s)\n", cmd.Process.Pid, e.Host(), e.EnvFile())
	return nil
}

// Status fails unless dockerd answers.
func (e *Engine) Status(ctx context.Context) error {
	pid, ok := e.pid()
	if !ok {
		return fmt.Errorf("dockerd is not running (no live pid in %s)", e.pidfile())
	}
	if err := e.ping(ctx); err != nil {
		return fmt.Errorf("dockerd pid %d does not answer on %s: %w", pid, e.Socket, err)
	}
	fmt.Fprintf(e.Out, "dockerd running, pid %d; DOCKER_HOST=%s\n", pid, e.Host())
	return nil
}

func (e *Engine) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := e.Docker(ctx, "version", "--format", "{{.Server.Version}}")
	return err
}

// pid is dockerd's pid from its pidfile, when that process lives.
func (e *Engine) pid() (int, bool) {
	b, err := os.ReadFile(e.pidfile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	st, err := leftover.ReadStat(pid)
	if err != nil || !st.Alive() {
		return 0, false
	}
	return pid, true
}

// Down removes every container and network of the engine, stops dockerd by
// its pid, then removes what dockerd leaves behind when it stops: the
// bridges, the iptables rules and chains, mounts below the exec root and
// the runtime state. It ends by scanning for leftovers.
func (e *Engine) Down(ctx context.Context) error {
	if pid, ok := e.pid(); ok {
		if e.ping(ctx) == nil {
			if out, err := e.Docker(ctx, "ps", "-aq"); err == nil && len(bytes.TrimSpace(out)) > 0 {
				args := append([]string{"rm", "-f", "-v"}, strings.Fields(string(out))...)
				if _, err := e.Docker(ctx, args...); err != nil {
					e.Log.Warn("removing containers", "err", err)
				}
			}
			if _, err := e.Docker(ctx, "network", "prune", "-f"); err != nil {
				e.Log.Warn("removing networks", "err", err)
			}
		}
		if err := stopPid(pid, 20*time.Second); err != nil {
			return err
		}
		e.Log.Info("stopped dockerd", "pid", pid)
	}
	// The shims of containers that outlived dockerd (SIGKILL) still run.
	for _, p := range e.processes() {
		_ = stopPid(p, 5*time.Second)
	}
	if err := leftover.UnmountBelow(e.Dir); err != nil {
		return err
	}
	if err := leftover.UnmountBelow(e.DataRoot); err != nil {
		return err
	}
	if err := removeLinks(ctx); err != nil {
		return err
	}
	if err := removeRules(ctx); err != nil {
		return err
	}
	if err := os.Remove(e.Socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", e.Socket, err)
	}
	if err := leftover.RemoveAllUnmounted(e.Dir); err != nil {
		return err
	}
	left, err := e.Leftovers(ctx)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("after down, the engine left:\n  %s", strings.Join(left, "\n  "))
	}
	fmt.Fprintln(e.Out, "dockerd is down; nothing of it remains (images kept in "+e.DataRoot+")")
	return nil
}

// Leftovers lists what of the engine remains: processes, mounts, links,
// iptables rules and chains, the socket and the runtime directory.
func (e *Engine) Leftovers(ctx context.Context) ([]string, error) {
	var left []string
	for _, p := range e.processes() {
		left = append(left, fmt.Sprintf("process %d: %s", p, cmdline(p)))
	}
	for _, d := range []string{e.Dir, e.DataRoot} {
		ms, err := leftover.MountsBelow(d)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			left = append(left, "mount "+m.MountPoint)
		}
	}
	links, err := Links(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		left = append(left, "link "+l)
	}
	rules, err := Rules(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		left = append(left, "iptables "+r)
	}
	for _, p := range []string{e.Socket, e.Dir} {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, "file "+p)
		}
	}
	return left, nil
}

// processes are those whose command line, working directory or executable
// refers to the engine's directories or socket: dockerd, its containerd,
// shims and the containers' processes started from them.
func (e *Engine) processes() []int {
	// This program and whatever runs it (make, a shell naming the env
	// file) are never the engine's.
	self := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !self[pid]; {
		self[pid] = true
		st, err := leftover.ReadStat(pid)
		if err != nil {
			break
		}
		pid = st.PPID
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || self[pid] {
			continue
		}
		st, err := leftover.ReadStat(pid)
		if err != nil || !st.Alive() {
			continue
		}
		cmd := cmdline(pid)
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if strings.Contains(cmd, e.Socket) || strings.Contains(cmd, e.execRoot()) ||
			strings.Contains(cmd, e.DataRoot+"/") || cwd == e.Dir || strings.HasPrefix(cwd, e.Dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

func stopPid(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		st, err := leftover.ReadStat(pid)
		if err != nil || !st.Alive() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50; i++ {
		st, err := leftover.ReadStat(pid)
		if err != nil || !st.Alive() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pid %d survives SIGKILL", pid)
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// installDockerIO installs Debian's docker.io when dockerd is missing. The
// package starts no daemon here: there is no systemd.
func installDockerIO(ctx context.Context, log *slog.Logger) error {
	if _, err := os.Stat(dockerdBinary); err == nil {
		return nil
	}
	log.Info("installing Debian's docker.io")
	start := time.Now()
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{
		{"-o", "DPkg::Lock::Timeout=600", "update"},
		{"-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends", "docker.io"},
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, lastLines(out, 20))
		}
	}
	log.Info("installed docker.io", "took", time.Since(start).Round(time.Second))
	return nil
}

func lastLines(b []byte, n int) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
