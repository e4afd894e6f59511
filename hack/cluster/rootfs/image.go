package rootfs

import (
	"context"
	"fmt"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// PythonImage is the one-layer image of a Python root filesystem tar made
// by Build: python3 as its command, UTF-8 and no bytecode files. The same
// tar gives the same digest.
func PythonImage(tarPath string) (v1.Image, error) {
	layer, err := tarball.LayerFromFile(tarPath)
	if err != nil {
		return nil, fmt.Errorf("making a layer from %s: %w", tarPath, err)
	}
	return ImageFrom(layer, func(cfg *v1.Config) {
		cfg.Env = append(cfg.Env, "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1")
		cfg.Cmd = []string{"python3"}
	})
}

// ImageFrom makes a one-layer image for this machine's platform; containerd
// refuses an image whose config names no platform.
func ImageFrom(layer v1.Layer, configure func(*v1.Config)) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("appending layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Config.Env = []string{imagePath}
	configure(&cf.Config)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting image config: %w", err)
	}
	return img, nil
}

// Push writes img under ref, a registry that may speak plain HTTP, and
// returns its digest. Blobs the registry already has are not sent again.
func Push(ctx context.Context, ref string, img v1.Image) (v1.Hash, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("parsing %s: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("digest of %s: %w", ref, err)
	}
	return d, nil
}
