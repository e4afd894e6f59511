package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// cniConflist is the node's pod network in place of kindnetd, which
// disableDefaultCNI leaves out: one bridge on kind's default pod subnet,
// enough for a single node.
const cniConflist = `{
  "cniVersion": "1.0.0",
  "name": "kind-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.0.0/16"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
`

const (
	cniConflistPath    = "/etc/cni/net.d/10-kind-bridge.conflist"
	containerdConfPath = "/etc/containerd/config.toml"
)

var sandboxImageRe = regexp.MustCompile(`(?m)^\s*sandbox_image\s*=\s*"([^"]+)"`)

// Images builds the base, node and registry images and returns the node
// image and the registry image.
func (k *Kind) Images(ctx context.Context) (node, registry string, err error) {
	start := time.Now()
	version, err := k.kubeVersion()
	if err != nil {
		return "", "", err
	}
	base, rootfsTar, err := k.baseImage(ctx)
	if err != nil {
		return "", "", err
	}
	bins, err := k.kubeBinaries(ctx, version)
	if err != nil {
		return "", "", err
	}
	for _, b := range []goBinary{etcdBinary, corednsBinary} {
		p, err := b.build(ctx, k)
		if err != nil {
			return "", "", err
		}
		bins[b.name] = p
	}
	// kubeadm 1.35 names pause 3.10.1 and kind's containerd config 3.10:
	// both names get the one pause image.
	pause, err := k.pauseBinary(ctx, version, "3.10.1")
	if err != nil {
		return "", "", err
	}
	bins["pause"] = pause

	h := sha256.New()
	fmt.Fprintln(h, base, version, cniConflist, nodeSteps)
	keys := make([]string, 0, len(bins))
	for n := range bins {
		keys = append(keys, n)
	}
	sort.Strings(keys)
	for _, n := range keys {
		d, err := fileDigest(bins[n])
		if err != nil {
			return "", "", err
		}
		fmt.Fprintln(h, n, d)
	}
	node = "ktr-kind/node:" + version + "-" + hex.EncodeToString(h.Sum(nil))[:12]
	if k.imageExists(ctx, node) {
		k.log.Info("node image is cached", "image", node)
	} else if err := k.buildNode(ctx, base, node, version, bins, rootfsTar); err != nil {
		return "", "", err
	}
	if registry, err = k.registryImage(ctx, rootfsTar); err != nil {
		return "", "", err
	}
	k.log.Info("images ready", "node", node, "registry", registry, "took", time.Since(start).Round(time.Second))
	return node, registry, nil
}

// nodeSteps names the steps below, so that changing them changes the key.
const nodeSteps = "v1: binaries /usr/bin, /kind/version, conflist, kubeadm images + sandbox image imported pinned into k8s.io, commit"

// buildNode performs kind's build context steps (pkg/build/nodeimage):
// the binaries into /usr/bin, /kind/version, every image kubeadm lists and
// containerd's sandbox image imported into containerd's k8s.io namespace
// and pinned, then a commit with kind's entrypoint.
func (k *Kind) buildNode(ctx context.Context, base, node, version string, bins map[string]string, rootfsTar string) error {
	k.log.Info("building the node image", "image", node)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := fmt.Sprintf("ktr-kind-build-%d-%x", time.Now().Unix(), suffix)
	if _, err := k.docker(ctx, nil, "run", "-d", "--entrypoint=sleep", "--name="+id,
		"--label=io.k8s-testrun.kind-build=1", "--security-opt", "seccomp=unconfined", base, "infinity"); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, err := k.docker(cctx, nil, "rm", "-f", "-v", id); err != nil {
			k.log.Warn("removing build container", "err", err)
		}
	}()
	for _, n := range []string{"kubeadm", "kubelet", "kubectl"} {
		if _, err := k.docker(ctx, nil, "cp", bins[n], id+":/usr/bin/"+n); err != nil {
			return err
		}
		if _, err := k.exec(ctx, id, "chmod", "+x", "/usr/bin/"+n); err != nil {
			return err
		}
		if _, err := k.exec(ctx, id, "chown", "root:root", "/usr/bin/"+n); err != nil {
			return err
		}
	}
	if err := k.writeFile(ctx, id, "/kind/version", version); err != nil {
		return err
	}
	if err := k.writeFile(ctx, id, cniConflistPath, cniConflist); err != nil {
		return err
	}
	list, err := k.exec(ctx, id, "kubeadm", "config", "images", "list", "--kubernetes-version", version)
	if err != nil {
		return err
	}
	conf, err := k.exec(ctx, id, "cat", containerdConfPath)
	if err != nil {
		return err
	}
	m := sandboxImageRe.FindStringSubmatch(conf)
	if m == nil {
		return fmt.Errorf("no sandbox_image in the node's %s", containerdConfPath)
	}
	images := append(strings.Fields(list), m[1])
	k.log.Info("images the node carries", "images", strings.Join(images, " "))

	work, err := os.MkdirTemp(filepath.Join(k.CacheDir, "kind"), ".node-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	archive := filepath.Join(work, "images.tar")
	if err := writeImages(archive, images, bins, rootfsTar); err != nil {
		return err
	}

	if _, err := k.exec(ctx, id, "bash", "-c", "nohup containerd > /dev/null 2>&1 &"); err != nil {
		return err
	}
	if _, err := k.exec(ctx, id, "bash", "-c", `set -e
for i in 0 1 2 3 4 5; do [ -S /run/containerd/containerd.sock ] && break; sleep "$i"; done
ctr version >/dev/null`); err != nil {
		return fmt.Errorf("containerd in the build container did not become ready: %w", err)
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	_, err = k.docker(ctx, f, "exec", "-i", id, "ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--no-unpack", "--digests", "-")
	f.Close()
	if err != nil {
		return err
	}
	// Debian's ctr has no import --label: pin after importing, so that
	// containerd's garbage collection keeps them as kind's loader does.
	for _, img := range images {
		if _, err := k.exec(ctx, id, "ctr", "--namespace=k8s.io", "images", "label", img, "io.cri-containerd.pinned=pinned"); err != nil {
			return err
		}
	}
	imported, err := k.exec(ctx, id, "ctr", "--namespace=k8s.io", "images", "list", "-q")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(imported) {
		have[l] = true
	}
	for _, img := range images {
		if !have[img] {
			return fmt.Errorf("image %s is not in the node's containerd after import; it has: %s", img, imported)
		}
	}
	if _, err := k.exec(ctx, id, "pkill", "containerd"); err != nil {
		return err
	}
	// containerd flushes its metadata on exit.
	_, _ = k.exec(ctx, id, "bash", "-c", "for i in $(seq 50); do pgrep -x containerd >/dev/null || exit 0; sleep 0.1; done")
	if _, err := k.docker(ctx, nil, "commit",
		"--change", `ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]`,
		"--change", `ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""`,
		id, node); err != nil {
		return err
	}
	k.log.Info("built the node image", "image", node)
	return nil
}

func (k *Kind) writeFile(ctx context.Context, container, path, content string) error {
	if _, err := k.exec(ctx, container, "mkdir", "-p", filepath.Dir(path)); err != nil {
		return err
	}
	_, err := k.docker(ctx, strings.NewReader(content), "exec", "-i", container, "cp", "/dev/stdin", path)
	return err
}
