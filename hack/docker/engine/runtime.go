package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// RuntimeName is the name under which dockerd knows the runtime wrapper,
// and the wrapper's file name: a program run under it acts as the wrapper
// (see RunRuntimeWrapper).
const RuntimeName = "ktr-runc"

// runcBinary is Debian's runc, which the wrapper runs.
const runcBinary = "/usr/sbin/runc"

// capNames are the capabilities in the kernel's numbering
// (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// RunRuntimeWrapper is dockerd's default runtime on a machine whose root
// lacks capabilities from its bounding set (here CAP_SYS_RESOURCE): Docker
// 20.10 gives a --privileged container every capability it knows, runc
// cannot grant one the machine has not got and fails with "unable to apply
// caps: operation not permitted". kind runs its nodes --privileged. The
// wrapper removes from the bundle's config.json the capabilities outside
// this process's bounding set, then executes runc with the same arguments.
func RunRuntimeWrapper(args []string) error {
	bundle, process := flagArg(args, "--bundle", "-b"), flagArg(args, "--process", "-p")
	if bundle != "" || process != "" {
		bnd, err := boundingSet("/proc/self/status")
		if err != nil {
			return err
		}
		// create and run read the bundle's config.json; exec (docker
		// exec) a process.json of its own.
		if bundle != "" {
			if err := dropCapabilities(filepath.Join(bundle, "config.json"), bnd, true); err != nil {
				return err
			}
		}
		if process != "" {
			if err := dropCapabilities(process, bnd, false); err != nil {
				return err
			}
		}
	}
	return syscall.Exec(runcBinary, append([]string{"runc"}, args...), os.Environ())
}

// flagArg is the value of a runc flag: --bundle of create and run,
// --process of exec.
func flagArg(args []string, long, short string) string {
	for i, a := range args {
		if (a == long || a == short) && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, long+"="); ok {
			return v
		}
	}
	return ""
}

// boundingSet is the set of capability names in the CapBnd line of a
// /proc/PID/status file.
func boundingSet(status string) (map[string]bool, error) {
	b, err := os.ReadFile(status)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("CapBnd in %s: %w", status, err)
		}
		set := map[string]bool{}
		for i, n := range capNames {
			if mask&(1<<uint(i)) != 0 {
				set[n] = true
			}
		}
		return set, nil
	}
	return nil, fmt.Errorf("no CapBnd in %s", status)
}

// dropCapabilities rewrites an OCI config.json (inBundle) or an exec
// process.json without the known capabilities outside bnd; capabilities
// this table does not know are left to runc.
func dropCapabilities(path string, bnd map[string]bool, inBundle bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	process := spec
	if inBundle {
		process, _ = spec["process"].(map[string]any)
	}
	caps, _ := process["capabilities"].(map[string]any)
	if caps == nil {
		return nil
	}
	known := map[string]bool{}
	for _, n := range capNames {
		known[n] = true
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if name, _ := c.(string); known[name] && !bnd[name] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}

// installRuntimeWrapper copies this program to the engine's directory under
// RuntimeName, for dockerd to run; `go run` deletes its own binary on exit.
func (e *Engine) installRuntimeWrapper() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(self)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(e.Dir, RuntimeName)
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp, dst)
}
