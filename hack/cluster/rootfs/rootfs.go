// Package rootfs builds Debian root filesystems with debootstrap and
// one-layer Python images from them. A root filesystem is packed once per
// machine and recipe and kept in a cache: every later image made from it has
// the same bytes, so the same digest. The local cluster's base image and the
// benchmarks' real-suite image are both made here.
package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/leftover"
)

// PythonPackages go into the Python base image on top of debootstrap's
// minbase. python-is-python3 makes `python` work as well as `python3`.
var PythonPackages = []string{"python3", "python3-pytest", "python-is-python3"}

// KubernetesPackages go into the client base on top of the Python ones.
// debootstrap resolves no virtual packages, so python3-cffi-backend, which
// provides the ones python3-cryptography depends on, is named itself.
var KubernetesPackages = []string{"python3-kubernetes", "python3-cffi-backend"}

// KubernetesRecipe is the Python base with Debian's Kubernetes client, for
// tests that call the API server (testdata/apicov).
func KubernetesRecipe(codename string) Recipe {
	return Recipe{Name: "python-kubernetes", Codename: codename, Packages: append(append([]string{}, PythonPackages...), KubernetesPackages...)}
}

// trimPaths are dropped from the root filesystem: nothing in a test pod
// reads documentation, translations or APT's caches, and /dev is the
// runtime's to fill.
var trimPaths = []string{
	"usr/share/doc/*",
	"usr/share/man/*",
	"usr/share/info/*",
	"usr/share/locale/*",
	"usr/share/lintian/*",
	"usr/share/linda/*",
	"var/lib/apt/lists/*",
	"var/cache/apt/*",
	"var/cache/debconf/*-old",
	"var/lib/dpkg/*-old",
	"var/log/*",
	"dev/*",
	"run/*",
	"tmp/*",
}

// version changes whenever the recipe below changes in a way the packages
// and trim lists do not show, so the cache key changes with it.
const version = "1"

// Recipe says what goes into a root filesystem.
type Recipe struct {
	// Name starts the cached file's name: NAME-CODENAME-KEY.tar.gz.
	Name string
	// Codename is the Debian release, e.g. bookworm.
	Codename string
	// Packages are installed on top of debootstrap's minbase, with what
	// they depend on.
	Packages []string
}

// key is the recipe's part of the cache file name. Name is left out: it
// only makes the file easier to recognise.
func (r Recipe) key() string {
	h := sha256.New()
	fmt.Fprintln(h, version, r.Codename, strings.Join(r.Packages, ","), strings.Join(trimPaths, ","))
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Path is where the cache under cacheDir keeps the recipe's tar.
func (r Recipe) Path(cacheDir string) string {
	return filepath.Join(cacheDir, "rootfs", fmt.Sprintf("%s-%s-%s.tar.gz", r.Name, r.Codename, r.key()))
}

// Build returns a gzipped tar of the recipe's root filesystem, building it
// with debootstrap from the machine's own Debian mirror unless cacheDir
// already has it.
func Build(ctx context.Context, cacheDir string, r Recipe, log *slog.Logger) (string, error) {
	out := r.Path(cacheDir)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	mirror, err := MirrorFor(r.Codename)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("creating rootfs cache: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(out), ".debootstrap-")
	if err != nil {
		return "", fmt.Errorf("creating debootstrap dir: %w", err)
	}
	defer func() {
		if err := leftover.RemoveAllUnmounted(work); err != nil {
			log.Warn("could not remove debootstrap dir", "dir", work, "err", err)
		}
	}()
	root := filepath.Join(work, "root")

	log.Info("building a root filesystem with debootstrap (about a minute)", "release", r.Codename, "packages", strings.Join(r.Packages, ","), "mirror", mirror)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "debootstrap",
		"--variant=minbase",
		"--include="+strings.Join(r.Packages, ","),
		"--components=main",
		r.Codename, root, mirror)
	cmd.Env = append(commandEnv(), "DEBIAN_FRONTEND=noninteractive")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap %s from %s: %w\n%s", r.Codename, mirror, err, lastLines(b, 30))
	}
	// debootstrap leaves /proc or /sys mounted in the target when it is
	// interrupted; nothing may be mounted below it when it is packed.
	if err := leftover.UnmountBelow(root); err != nil {
		return "", err
	}
	for _, pattern := range trimPaths {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return "", fmt.Errorf("trimming %s: %w", pattern, err)
		}
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return "", fmt.Errorf("trimming %s: %w", m, err)
			}
		}
	}
	tmpTar := filepath.Join(work, "rootfs.tar.gz")
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "--xattrs", "--sort=name", "-czf", tmpTar, "-C", root, ".")
	if b, err := tarCmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("packing root filesystem: %w\n%s", err, b)
	}
	if err := os.Rename(tmpTar, out); err != nil {
		return "", fmt.Errorf("caching root filesystem: %w", err)
	}
	var size int64
	if st, err := os.Stat(out); err == nil {
		size = st.Size()
	}
	log.Info("built root filesystem", "took", time.Since(start).Round(time.Second), "file", out, "bytes", size)
	return out, nil
}

// commandEnv is the environment of debootstrap: a plain PATH (debootstrap
// runs chroot and dpkg, found in sbin) and no KUBECONFIG.
func commandEnv() []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	return env
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
