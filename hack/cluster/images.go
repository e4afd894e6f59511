package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
)

// Image repositories and tags in the cluster's registry.
const (
	pauseRepo = "k8s-testrun/pause"
	pauseTag  = "3.10"
	baseRepo  = "k8s-testrun/python"
)

// pushPause builds the pause binary statically and pushes it as the sandbox
// image. The tag is what containerd's sandbox_image names.
func (c *Cluster) pushPause(ctx context.Context, s State) (string, error) {
	bin := c.path("images", "pause")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("creating image dir: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./hack/cluster/pause")
	cmd.Dir = c.RepoDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building pause: %w\n%s", err, out)
	}
	content, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("reading pause binary: %w", err)
	}
	layerTar, err := singleFileTar("pause", content, 0o755)
	if err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return "", fmt.Errorf("making pause layer: %w", err)
	}
	img, err := rootfs.ImageFrom(layer, func(cfg *v1.Config) {
		cfg.Entrypoint = []string{"/pause"}
	})
	if err != nil {
		return "", err
	}
	ref := fmt.Sprintf("%s/%s:%s", s.registry(), pauseRepo, pauseTag)
	if _, err := c.push(ctx, ref, img); err != nil {
		return "", err
	}
	return ref, nil
}

// pushBase pushes the Python base image of the machine's own Debian
// release and returns its reference by digest.
func (c *Cluster) pushBase(ctx context.Context, s State) (string, error) {
	codename, err := rootfs.OSCodename()
	if err != nil {
		return "", err
	}
	return c.pushPython(ctx, s, codename)
}

// matrixRelease is, for each Debian release the machine may run, the other
// release whose Python base the runtime-matrix tests use beside the
// machine's own: bookworm has Python 3.11 and pytest 7, trixie Python 3.13
// and pytest 8.
var matrixRelease = map[string]string{"bookworm": "trixie", "trixie": "bookworm"}

// pushMatrixBase pushes the Python base image of the release matrixRelease
// pairs with the machine's, and returns its reference by digest.
func (c *Cluster) pushMatrixBase(ctx context.Context, s State) (string, error) {
	own, err := rootfs.OSCodename()
	if err != nil {
		return "", err
	}
	codename, ok := matrixRelease[own]
	if !ok {
		return "", fmt.Errorf("no second Debian release is known for a %s machine; the runtime-matrix base needs one of bookworm or trixie", own)
	}
	return c.pushPython(ctx, s, codename)
}

// pushKubernetesBase pushes the machine's Python base with the Kubernetes
// client, tagged 3-CODENAME-kubernetes, and returns its reference by digest.
func (c *Cluster) pushKubernetesBase(ctx context.Context, s State) (string, error) {
	codename, err := rootfs.OSCodename()
	if err != nil {
		return "", err
	}
	return c.pushRecipe(ctx, s, rootfs.KubernetesRecipe(codename), "3-"+codename+"-kubernetes")
}

// pushPython pushes the Python base image of a Debian release, from its
// cached root filesystem, and returns its reference by digest, which stays
// the same as long as the cached root filesystem does.
func (c *Cluster) pushPython(ctx context.Context, s State, codename string) (string, error) {
	return c.pushRecipe(ctx, s, rootfs.Recipe{Name: "python", Codename: codename, Packages: rootfs.PythonPackages}, "3-"+codename)
}

// pushRecipe builds (or takes from the cache) the recipe's root filesystem
// and pushes it as a Python image under baseRepo:tag.
func (c *Cluster) pushRecipe(ctx context.Context, s State, r rootfs.Recipe, tag string) (string, error) {
	tar, err := rootfs.Build(ctx, c.CacheDir, r, c.log)
	if err != nil {
		return "", err
	}
	img, err := rootfs.PythonImage(tar)
	if err != nil {
		return "", err
	}
	ref := fmt.Sprintf("%s/%s:%s", s.registry(), baseRepo, tag)
	digest, err := c.push(ctx, ref, img)
	if err != nil {
		return "", err
	}
	return ref + "@" + digest.String(), nil
}

// push writes img under ref and returns its digest.
func (c *Cluster) push(ctx context.Context, ref string, img v1.Image) (v1.Hash, error) {
	start := time.Now()
	d, err := rootfs.Push(ctx, ref, img)
	if err != nil {
		return d, err
	}
	c.log.Info("pushed image", "ref", ref, "digest", d.String(), "took", time.Since(start).Round(time.Millisecond))
	return d, nil
}

// imagePresent reports whether the registry serves ref; the registry keeps
// manifests in memory, so a restarted one has none.
func imagePresent(ctx context.Context, ref string) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", ref, err)
	}
	if _, err := remote.Head(r, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("registry lacks %s: %w", ref, err)
	}
	return nil
}

func singleFileTar(path string, content []byte, mode int64) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: path, Mode: mode, Size: int64(len(content)), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("writing tar header for %s: %w", path, err)
	}
	if _, err := tw.Write(content); err != nil {
		return nil, fmt.Errorf("writing %s into tar: %w", path, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar: %w", err)
	}
	return buf.Bytes(), nil
}
