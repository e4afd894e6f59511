package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// goBinary is a command built from a module the Go proxy serves, at a
// pinned version, in a throwaway module whose only requirement is it: the
// module's own go.mod decides every other version, as its release does.
type goBinary struct {
	name    string // file name in the cache
	module  string
	version string
	pkg     string
}

// Pinned versions: etcd and CoreDNS are what kubeadm 1.35 names
// (constants.DefaultEtcdVersion 3.6.6-0, CoreDNSVersion v1.13.1).
var (
	etcdBinary     = goBinary{"etcd", "go.etcd.io/etcd/server/v3", "v3.6.6", "go.etcd.io/etcd/server/v3"}
	corednsBinary  = goBinary{"coredns", "github.com/coredns/coredns", "v1.13.1", "github.com/coredns/coredns"}
	registryBinary = goBinary{"registry", "github.com/distribution/distribution/v3", "v3.0.0", "github.com/distribution/distribution/v3/cmd/registry"}
)

// build returns the static binary, building it unless the cache has it.
func (b goBinary) build(ctx context.Context, k *Kind) (string, error) {
	out := filepath.Join(k.CacheDir, "kind", "bin", b.name+"-"+b.version)
	if st, err := os.Stat(out); err == nil && st.Mode()&0o111 != 0 {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(filepath.Dir(out), ".build-"+b.name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	k.log.Info("building from its Go module", "binary", b.name, "module", b.module, "version", b.version)
	start := time.Now()
	env := append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	for _, args := range [][]string{
		{"mod", "init", "build.local/" + b.name},
		{"get", b.module + "@" + b.version},
		{"build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(work, b.name), b.pkg},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = work, env
		if o, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s for %s: %w\n%s", args[0], b.name, err, lastLines(string(o), 20))
		}
	}
	if err := os.Rename(filepath.Join(work, b.name), out); err != nil {
		return "", err
	}
	k.log.Info("built", "binary", b.name, "took", time.Since(start).Round(time.Second))
	return out, nil
}

// kubeVersion is the Kubernetes release hack/kube pins.
func (k *Kind) kubeVersion() (string, error) {
	gomod := filepath.Join(k.RepoDir, "hack", "kube", "go.mod")
	f, err := os.Open(gomod)
	if err != nil {
		return "", fmt.Errorf("reading pinned Kubernetes version: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[0] == "require" {
			fields = fields[1:]
		}
		if len(fields) >= 2 && fields[0] == "k8s.io/kubernetes" {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("%s does not require k8s.io/kubernetes", gomod)
}

// kubeBinaries returns the paths of the node's Kubernetes commands. The
// local cluster's cache (hack/cluster) already has most of them; kubeadm and
// kube-proxy are built here, from the same pinned module, with the same
// version variables.
func (k *Kind) kubeBinaries(ctx context.Context, version string) (map[string]string, error) {
	clusterDir := filepath.Join(k.CacheDir, "kube", version)
	own := filepath.Join(k.CacheDir, "kind", "bin", "kube-"+version)
	paths := map[string]string{}
	missing := false
	for _, n := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl"} {
		paths[n] = filepath.Join(clusterDir, n)
		if _, err := os.Stat(paths[n]); err != nil {
			missing = true
		}
	}
	if missing {
		// hack/cluster builds these on its first up.
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(own, "/"),
			"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
			"k8s.io/kubernetes/cmd/kube-scheduler", "k8s.io/kubernetes/cmd/kubelet", "k8s.io/kubernetes/cmd/kubectl")
		if err := k.goBuildKube(ctx, cmd, version); err != nil {
			return nil, err
		}
		for n := range paths {
			paths[n] = filepath.Join(own, n)
		}
	}
	for _, n := range []string{"kubeadm", "kube-proxy"} {
		paths[n] = filepath.Join(own, n)
	}
	if _, err := os.Stat(paths["kubeadm"]); err == nil {
		if _, err := os.Stat(paths["kube-proxy"]); err == nil {
			return paths, nil
		}
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", own+"/",
		"k8s.io/kubernetes/cmd/kubeadm", "k8s.io/kubernetes/cmd/kube-proxy")
	if err := k.goBuildKube(ctx, cmd, version); err != nil {
		return nil, err
	}
	return paths, nil
}

func (k *Kind) goBuildKube(ctx context.Context, cmd *exec.Cmd, version string) error {
	v := strings.TrimPrefix(version, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 3 {
		return fmt.Errorf("pinned Kubernetes version %q is not vMAJOR.MINOR.PATCH", version)
	}
	ldflags := "-s -w -X k8s.io/component-base/version.gitVersion=" + version +
		" -X k8s.io/component-base/version.gitMajor=" + parts[0] +
		" -X k8s.io/component-base/version.gitMinor=" + parts[1] +
		" -X k8s.io/component-base/version.gitTreeState=clean"
	// Insert -ldflags after "build -trimpath".
	cmd.Args = append(cmd.Args[:3], append([]string{"-ldflags", ldflags}, cmd.Args[3:]...)...)
	cmd.Dir = filepath.Join(k.RepoDir, "hack", "kube")
	k.log.Info("building Kubernetes commands", "args", short(cmd.Args[6:]))
	start := time.Now()
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building Kubernetes commands: %w\n%s", err, lastLines(string(o), 20))
	}
	k.log.Info("built Kubernetes commands", "took", time.Since(start).Round(time.Second))
	return nil
}

// pauseBinary compiles the Kubernetes source's pause.c (build/pause/linux)
// statically, with the version kubeadm names, as its Makefile does.
func (k *Kind) pauseBinary(ctx context.Context, kubeVersion, pauseVersion string) (string, error) {
	out := filepath.Join(k.CacheDir, "kind", "bin", "pause-"+pauseVersion)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	modDir, err := goModDir(ctx, filepath.Join(k.RepoDir, "hack", "kube"), "k8s.io/kubernetes")
	if err != nil {
		return "", err
	}
	src := filepath.Join(modDir, "build", "pause", "linux", "pause.c")
	tmp := out + ".tmp"
	cmd := exec.CommandContext(ctx, "gcc", "-Os", "-Wall", "-Werror", "-static", "-DVERSION=v"+pauseVersion+"-"+kubeVersion, "-o", tmp, src)
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling %s (needs gcc and libc6-dev): %w\n%s", src, err, o)
	}
	if o, err := exec.CommandContext(ctx, "strip", tmp).CombinedOutput(); err != nil {
		return "", fmt.Errorf("strip pause: %w\n%s", err, o)
	}
	return out, os.Rename(tmp, out)
}

func goModDir(ctx context.Context, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = dir
	o, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating module %s: %w", module, err)
	}
	return strings.TrimSpace(string(o)), nil
}

// fileDigest is the sha256 of a file, for cache keys.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
