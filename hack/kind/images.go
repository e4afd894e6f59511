package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
)

// component is how one image kubeadm names is assembled: the root
// filesystem layer (glibc, iptables and the CA bundle, which kube-proxy and
// the dynamically linked control plane need) plus one file.
type component struct {
	binary     string   // host path of the file
	target     string   // its path in the image
	entrypoint []string // nil: kubeadm's manifests give the command
}

// componentFor maps an image name kubeadm lists to what makes it, by the
// repository's last path element, so a name kubeadm 1.35 adds or changes
// fails the build instead of leaving an image for containerd to pull.
func componentFor(image string, bins map[string]string) (component, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return component{}, fmt.Errorf("image %q: %w", image, err)
	}
	repo := path.Base(ref.Context().RepositoryStr())
	switch repo {
	case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy":
		return component{binary: bins[repo], target: "/usr/local/bin/" + repo}, nil
	case "etcd":
		return component{binary: bins["etcd"], target: "/usr/local/bin/etcd"}, nil
	case "coredns":
		return component{binary: bins["coredns"], target: "/coredns", entrypoint: []string{"/coredns"}}, nil
	case "pause":
		return component{binary: bins["pause"], target: "/pause", entrypoint: []string{"/pause"}}, nil
	}
	return component{}, fmt.Errorf("no recipe for image %q that kubeadm names: add one to hack/kind/images.go", image)
}

// writeImages writes one docker-archive tar holding every image under its
// exact name, as `ctr images import` reads it.
func writeImages(out string, names []string, bins map[string]string, rootfsTar string) error {
	base, err := tarball.LayerFromFile(rootfsTar)
	if err != nil {
		return fmt.Errorf("layer of %s: %w", rootfsTar, err)
	}
	refs := map[name.Reference]v1.Image{}
	for _, n := range names {
		c, err := componentFor(n, bins)
		if err != nil {
			return err
		}
		img, err := fileImage(base, c)
		if err != nil {
			return fmt.Errorf("image %s: %w", n, err)
		}
		tag, err := name.NewTag(n)
		if err != nil {
			return fmt.Errorf("image %s: %w", n, err)
		}
		refs[tag] = img
	}
	return tarball.MultiRefWriteToFile(out, refs)
}

func fileImage(base v1.Layer, c component) (v1.Image, error) {
	content, err := os.ReadFile(c.binary)
	if err != nil {
		return nil, err
	}
	layerTar, err := fileTar(strings.TrimPrefix(c.target, "/"), content, 0o755)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := rootfs.ImageFrom(base, func(cfg *v1.Config) {
		cfg.Entrypoint = c.entrypoint
	})
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(img, layer)
}

// fileTar is a tar with one file and its parent directories.
func fileTar(p string, content []byte, mode int64) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := strings.Split(path.Dir(p), "/")
	for i := range dirs {
		if dirs[0] == "." {
			break
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.Join(dirs[:i+1], "/") + "/", Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(content))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
