package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// RegistryName is the registry container's name in kind's local-registry
// recipe; the project finds it by it (internal/kind.ConventionalRegistry).
const RegistryName = "kind-registry"

// registryConfig is distribution's configuration: blobs on the container's
// filesystem, plain HTTP on port 5000 as in kind's recipe.
const registryConfig = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
`

// registryImage builds distribution's registry from its Go module into an
// image on the root filesystem layer and loads it into the engine.
func (k *Kind) registryImage(ctx context.Context, rootfsTar string) (string, error) {
	bin, err := registryBinary.build(ctx, k)
	if err != nil {
		return "", err
	}
	d, err := fileDigest(bin)
	if err != nil {
		return "", err
	}
	ref := "ktr-kind/registry:" + registryBinary.version + "-" + d[:12]
	if k.imageExists(ctx, ref) {
		return ref, nil
	}
	base, err := tarball.LayerFromFile(rootfsTar)
	if err != nil {
		return "", err
	}
	img, err := fileImage(base, component{binary: bin, target: "/usr/local/bin/registry",
		entrypoint: []string{"/usr/local/bin/registry", "serve", "/etc/distribution/config.yml"}})
	if err != nil {
		return "", err
	}
	confTar, err := fileTar("etc/distribution/config.yml", []byte(registryConfig), 0o644)
	if err != nil {
		return "", err
	}
	confLayer, err := tarball.LayerFromReader(strings.NewReader(string(confTar)))
	if err != nil {
		return "", err
	}
	if img, err = mutate.AppendLayers(img, confLayer); err != nil {
		return "", err
	}
	img, err = withExposedPort(img, "5000/tcp")
	if err != nil {
		return "", err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Join(k.CacheDir, "kind"), ".registry-*.tar")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := tarball.WriteToFile(tmp.Name(), tag, img); err != nil {
		return "", fmt.Errorf("writing registry image: %w", err)
	}
	if _, err := k.docker(ctx, nil, "load", "-i", tmp.Name()); err != nil {
		return "", err
	}
	return ref, nil
}

func withExposedPort(img v1.Image, port string) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	if cf.Config.ExposedPorts == nil {
		cf.Config.ExposedPorts = map[string]struct{}{}
	}
	cf.Config.ExposedPorts[port] = struct{}{}
	return mutate.ConfigFile(img, cf)
}
