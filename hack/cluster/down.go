package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/leftover"
)

// runtimeState are the parts of the cluster directory that belong to one
// run of the cluster. The CA, the footprint and the logs stay, so that
// kubeconfigs stay valid, checks know where to look and failures can be read.
var runtimeState = []string{
	"etcd", "containerd", "kubelet", "cni", "registry", "run", "images", "bin",
	"env", "cluster.json", "admin.kubeconfig", "controller-manager.kubeconfig",
	"scheduler.kubeconfig", "kubelet.kubeconfig", "kubelet-config.json",
}

// Down stops the cluster and verifies that nothing of it remains.
func (c *Cluster) Down(ctx context.Context) error {
	began := time.Now()
	if err := c.teardown(ctx); err != nil {
		return err
	}
	report, err := c.scan(ctx)
	if err != nil {
		return err
	}
	if len(report) > 0 {
		return fmt.Errorf("cluster %q left these behind:\n%s", c.Name, report)
	}
	fmt.Fprintf(c.out, "cluster %q is down; no process, mount, network namespace, link, cgroup or iptables rule of it remains (took %s)\n",
		c.Name, time.Since(began).Round(time.Millisecond))
	return nil
}

// scan looks for anything of the cluster on the machine.
func (c *Cluster) scan(ctx context.Context) (leftover.Report, error) {
	r, err := leftover.Scan(ctx, c.savedFootprint())
	if err != nil {
		return nil, fmt.Errorf("scanning for leftovers: %w", err)
	}
	return r, nil
}

// savedFootprint is the footprint the cluster was started with, which may
// differ from the flags of this invocation.
func (c *Cluster) savedFootprint() leftover.Footprint {
	if f, err := leftover.Load(c.Dir); err == nil && f.Dir == c.Dir {
		return f
	}
	return c.footprint()
}

// teardown stops and removes everything a cluster, running, broken or
// killed, may have left. It works from the pidfiles, the runtime state in
// the cluster directory and the footprint, never from process names.
func (c *Cluster) teardown(ctx context.Context) error {
	// Cleaning up must finish even when the user interrupts: a half torn
	// down cluster is the worst state to leave.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	fp := c.savedFootprint()
	var errs []error

	if s, ok, err := c.loadState(); err == nil && ok && c.running(nameAPIServer) && c.running(nameKubelet) {
		c.drainPods(ctx, s)
	}
	for _, name := range []string{nameKubelet, nameScheduler, nameCM, nameAPIServer, nameEtcd} {
		errs = append(errs, c.stop(ctx, name, graceOf(name)))
	}
	errs = append(errs, c.removeContainers(ctx, fp))
	errs = append(errs, c.stop(ctx, nameContainerd, graceOf(nameContainerd)))
	errs = append(errs, c.stop(ctx, nameRegistry, graceOf(nameRegistry)))
	// Whatever still refers to the cluster now is a shim or a container
	// process whose parent was killed: found by pid through /proc.
	errs = append(errs, c.killStragglers(ctx, fp))
	errs = append(errs, removeShimSockets(fp.Dir))
	errs = append(errs, c.removeNetwork(ctx, fp))
	errs = append(errs, leftover.UnmountBelow(fp.Dir))
	errs = append(errs, removeCgroups(fp.CgroupRoot))
	for _, p := range runtimeState {
		errs = append(errs, leftover.RemoveAllUnmounted(filepath.Join(fp.Dir, p)))
	}
	return errors.Join(errs...)
}

func graceOf(name string) time.Duration {
	switch name {
	case nameAPIServer:
		return 20 * time.Second
	case nameKubelet, nameContainerd:
		return 15 * time.Second
	case nameRegistry:
		return 5 * time.Second
	default:
		return 10 * time.Second
	}
}

// drainPods deletes every pod through the API and waits for the kubelet to
// stop them, so their sandboxes go through the CRI's own tear-down. What it
// cannot do is left to the forced clean-up that follows.
func (c *Cluster) drainPods(ctx context.Context, s State) {
	cs, err := c.client()
	if err != nil {
		c.log.Warn("cannot drain pods", "err", err)
		return
	}
	start := time.Now()
	left, err := drain(ctx, cs, s.NodeName, 60*time.Second)
	switch {
	case err != nil:
		c.log.Warn("draining pods failed; removing containers directly", "err", err)
	case left > 0:
		c.log.Warn("pods did not stop in time; removing containers directly", "pods", left)
	default:
		c.log.Info("drained pods", "took", time.Since(start).Round(time.Millisecond))
	}
}

// removeContainers deletes, through runc and the cluster's own runc root,
// every container the kubelet did not stop: after a crash or a kill they
// keep running without anyone to stop them.
func (c *Cluster) removeContainers(ctx context.Context, fp leftover.Footprint) error {
	byNS, err := c.runcContainers()
	if err != nil {
		return err
	}
	var errs []error
	for ns, ids := range byNS {
		for _, id := range ids {
			c.log.Warn("removing container left running", "namespace", ns, "id", id)
			cmd := exec.CommandContext(ctx, "runc", "--root", filepath.Join(c.runcRoot(), ns), "delete", "--force", id)
			cmd.Env = componentEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("runc delete %s: %w: %s", id, err, strings.TrimSpace(string(out))))
			}
		}
	}
	// A process that escaped runc's view still sits in the pods' cgroups.
	dirs, err := leftover.CgroupDirs(fp.CgroupRoot)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || e.Name() != "cgroup.procs" {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					c.log.Warn("killing process left in pod cgroup", "pid", pid, "cgroup", filepath.Dir(p))
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
	return errors.Join(errs...)
}

// killStragglers kills, by pid, the processes the cluster started that its
// pidfiles do not name: containerd shims, which outlive containerd by
// design, and container processes in the pod cgroups. Other processes that
// merely refer to the cluster directory, such as a shell inside it, are
// not the cluster's to kill; the final scan names them.
func (c *Cluster) killStragglers(ctx context.Context, fp leftover.Footprint) error {
	for round := 0; round < 3; round++ {
		ps, err := leftover.ClusterProcesses(fp)
		if err != nil {
			return err
		}
		var ours []leftover.Process
		for _, p := range ps {
			if strings.Contains(p.Cmdline, c.containerdSocket()) || strings.HasPrefix(p.Why, "cgroup ") ||
				strings.HasPrefix(p.Why, "exe ") {
				ours = append(ours, p)
			}
		}
		if len(ours) == 0 {
			return nil
		}
		for _, p := range ours {
			c.log.Warn("killing leftover process", "pid", p.PID, "why", p.Why, "cmd", p.Cmdline)
			st, err := leftover.ReadStat(p.PID)
			if err != nil {
				continue
			}
			rec := pidRecord{PID: p.PID, Start: st.StartTime}
			if err := killWait(ctx, rec, 3*time.Second); err != nil {
				c.log.Warn("could not kill leftover process", "pid", p.PID, "err", err)
			}
		}
	}
	return nil
}

// removeShimSockets deletes the sockets of shims that were killed: each
// task bundle records its shim's address, outside the cluster directory.
func removeShimSockets(dir string) error {
	var errs []error
	for _, b := range leftover.TaskBundles(dir) {
		addr, err := os.ReadFile(filepath.Join(b, "address"))
		if err != nil {
			continue
		}
		sock := strings.TrimPrefix(strings.TrimSpace(string(addr)), "unix://")
		if !strings.HasPrefix(sock, "/run/containerd/s/") {
			continue
		}
		if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing shim socket %s: %w", sock, err))
		}
	}
	return errors.Join(errs...)
}

// removeNetwork removes the pods' network namespaces, the CNI cache of the
// cluster's network, iptables rules naming it, and the bridge.
func (c *Cluster) removeNetwork(ctx context.Context, fp leftover.Footprint) error {
	var errs []error
	nss, err := leftover.ClusterNetns(ctx, fp)
	if err != nil {
		errs = append(errs, err)
	}
	for p, why := range nss {
		c.log.Info("removing pod network namespace", "netns", p, "why", why)
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing %s: %w", p, err))
		}
	}
	cached, err := leftover.CNICacheFiles(fp.Dir, fp.Network)
	if err != nil {
		errs = append(errs, err)
	}
	for _, f := range cached {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing CNI cache %s: %w", f, err))
		}
	}
	errs = append(errs, c.removeRules(ctx, fp))
	links, err := leftover.Links(fp)
	if err != nil {
		errs = append(errs, err)
	}
	// Ports first: a veth whose namespace is gone has gone with it, the
	// rest would keep the bridge busy.
	sort.SliceStable(links, func(i, j int) bool { return links[i].ID != fp.Bridge && links[j].ID == fp.Bridge })
	for _, l := range links {
		out, err := exec.CommandContext(ctx, "ip", "link", "delete", l.ID).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "Cannot find device") {
			errs = append(errs, fmt.Errorf("deleting link %s: %w: %s", l.ID, err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

// removeRules deletes the iptables rules that match the cluster's network,
// and the per-container CNI chains they jump to. The bridge is configured
// without masquerading, so normally there are none.
func (c *Cluster) removeRules(ctx context.Context, fp leftover.Footprint) error {
	rules, err := leftover.ClusterRules(ctx, fp)
	if err != nil || len(rules) == 0 {
		return err
	}
	var errs []error
	chains := map[[2]string]bool{}
	for _, r := range rules {
		c.log.Info("removing iptables rule", "table", r.Table, "rule", r.Spec)
		// iptables-save quotes its output for a shell; the shell undoes it.
		out, err := exec.CommandContext(ctx, "sh", "-c", "iptables -w -t "+r.Table+" -D "+r.Spec).CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Errorf("deleting iptables rule %q: %w: %s", r.Spec, err, strings.TrimSpace(string(out))))
		}
		f := strings.Fields(r.Spec)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "-j" && strings.HasPrefix(f[i+1], "CNI-") {
				chains[[2]string{r.Table, f[i+1]}] = true
			}
		}
	}
	for tc := range chains {
		for _, op := range []string{"-F", "-X"} {
			if out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", tc[0], op, tc[1]).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("iptables %s %s: %w: %s", op, tc[1], err, strings.TrimSpace(string(out))))
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroups removes the pods' cgroup root in every hierarchy, children
// first; cgroup directories go with rmdir, not by deleting their files.
func removeCgroups(root string) error {
	dirs, err := leftover.CgroupDirs(root)
	if err != nil {
		return err
	}
	var errs []error
	for _, top := range dirs {
		var all []string
		_ = filepath.WalkDir(top, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
		for _, d := range all {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}
