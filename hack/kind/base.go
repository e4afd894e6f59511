package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
)

// kindModule is the pinned kind; its images/base/files come from this
// module's copy in the Go module cache.
const kindModule = "sigs.k8s.io/kind"

// basePackages are kind's base image packages (images/base/Dockerfile)
// that Debian has, with Debian's containerd, runc and CNI plugins in place
// of the ones kind builds. systemd-sysv gives /sbin/init.
var basePackages = []string{
	"systemd", "systemd-sysv", "dbus",
	"containerd", "runc", "containernetworking-plugins",
	"conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount", "kmod",
	"libseccomp2", "pigz", "fuse-overlayfs",
	"bash", "ca-certificates", "curl", "jq", "procps",
}

// baseDockerfile applies kind's base image steps to the debootstrap root
// filesystem. kind's files are copied with modes set beforehand (the legacy
// builder has no COPY --chmod). Debian's containerd is in /usr/bin, where
// kind's containerd.service does not look, and Debian's CNI plugins are in
// /usr/lib/cni, not /opt/cni/bin, where kind's containerd config looks.
const baseDockerfile = `FROM %s
COPY files/ /
RUN find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \
    && rm -f /lib/systemd/system/multi-user.target.wants/* \
    && rm -f /etc/systemd/system/*.wants/* \
    && rm -f /lib/systemd/system/local-fs.target.wants/* \
    && rm -f /lib/systemd/system/sockets.target.wants/*udev* \
    && rm -f /lib/systemd/system/sockets.target.wants/*initctl* \
    && rm -f /lib/systemd/system/basic.target.wants/* \
    && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \
    && ln -sf /lib/systemd/systemd /sbin/init
RUN systemctl enable kubelet.service \
    && systemctl enable containerd.service \
    && systemctl enable undo-mount-hacks.service \
    && systemctl mask systemd-binfmt.service
RUN mkdir -p /etc/kubernetes/manifests /opt/cni/bin \
    && ln -sf /usr/bin/containerd /usr/local/bin/containerd \
    && for p in /usr/lib/cni/*; do ln -sf "$p" /opt/cni/bin/; done \
    && ctr oci spec \
        | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
        | jq 'del(.process.rlimits)' \
        > /etc/containerd/cri-base.json \
    && containerd --version && runc --version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]
`

// baseImage builds kind's base image from a debootstrap root filesystem
// and kind's images/base/files, and returns its tag, which is a digest of
// the inputs: the root filesystem's recipe, kind's files and the steps.
func (k *Kind) baseImage(ctx context.Context) (ref, rootfsTar string, err error) {
	codename, err := rootfs.OSCodename()
	if err != nil {
		return "", "", err
	}
	recipe := rootfs.Recipe{Name: "kind-base", Codename: codename, Packages: basePackages}
	tarPath, err := rootfs.Build(ctx, k.CacheDir, recipe, k.log)
	if err != nil {
		return "", "", err
	}
	kindDir, err := goModDir(ctx, k.RepoDir, kindModule)
	if err != nil {
		return "", "", err
	}
	files := filepath.Join(kindDir, "images", "base", "files")
	h := sha256.New()
	fmt.Fprint(h, filepath.Base(tarPath), "\n", baseDockerfile)
	if err := hashTree(h, files); err != nil {
		return "", "", err
	}
	ref = "ktr-kind/base:" + hex.EncodeToString(h.Sum(nil))[:16]
	if k.imageExists(ctx, ref) {
		return ref, tarPath, nil
	}

	rootfsRef := "ktr-kind/rootfs:" + strings.TrimSuffix(filepath.Base(tarPath), ".tar.gz")
	if !k.imageExists(ctx, rootfsRef) {
		k.log.Info("importing the root filesystem into the engine", "image", rootfsRef)
		if _, err := k.docker(ctx, nil, "import", tarPath, rootfsRef); err != nil {
			return "", "", err
		}
	}
	buildDir, err := os.MkdirTemp("", "ktr-kind-base-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(buildDir)
	if err := copyKindFiles(files, filepath.Join(buildDir, "files")); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(buildDir, "Dockerfile"), fmt.Appendf(nil, baseDockerfile, rootfsRef), 0o644); err != nil {
		return "", "", err
	}
	k.log.Info("building kind's base image", "image", ref)
	if _, err := k.docker(ctx, nil, "build", "-t", ref, buildDir); err != nil {
		return "", "", err
	}
	return ref, tarPath, nil
}

// copyKindFiles copies kind's base image files with the modes its
// Dockerfile gives them: scripts under usr/local/bin and kind/bin 0755,
// every other file 0644, directories 0755.
func copyKindFiles(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasPrefix(rel, "LICENSES") {
			return nil
		}
		mode := os.FileMode(0o644)
		if dir := filepath.Dir(rel); dir == "usr/local/bin" || dir == "kind/bin" {
			mode = 0o755
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, b, mode); err != nil {
			return err
		}
		return os.Chmod(target, mode)
	})
}

// hashTree writes every file's path and contents under dir to h, in order.
func hashTree(h interface{ Write([]byte) (int, error) }, dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return nil
}
