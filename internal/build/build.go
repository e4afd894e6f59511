package build

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// Result describes a pushed test image.
type Result struct {
	// Image is the pushed image as repository@sha256:..., the reference
	// pods should use.
	Image  string
	Digest v1.Hash
	// BaseDigest is the digest of the base image's manifest for the
	// platform, not of its index.
	BaseDigest    v1.Hash
	PythonVersion string // major.minor, e.g. "3.12"
	// PipRan is false when the dependencies came from the cache or were
	// not needed.
	PipRan bool
	// BinaryCompressed is false when the binary layer came from the build
	// cache (Options.CacheDir).
	BinaryCompressed bool
	// BaseInspected is true when the base image's layers were read to learn
	// its Python version and C library: not when the dependencies came from
	// the registry's cache, nor when the build cache knew the base.
	BaseInspected bool
	// UploadedBlobs and UploadedBytes count the blobs the registry did not
	// have, dependency cache included; layers it had or could mount from
	// another repository cost nothing.
	UploadedBlobs int
	UploadedBytes int64
	// FaketimeLibrary, when Options.Faketime asked, is where the base
	// image has libfaketime.so.1; "" when it has none.
	FaketimeLibrary string
}

// Build assembles the test image for opts and pushes it by digest.
func Build(ctx context.Context, opts Options) (Result, error) {
	b, err := newBuilder(opts)
	if err != nil {
		return Result{}, err
	}
	if b.tmpDir, err = os.MkdirTemp("", "k8s-testrun-build-"); err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(b.tmpDir)
	return b.build(ctx)
}

func (b *builder) build(ctx context.Context) (Result, error) {
	start := time.Now()
	base, source, bin, binCompressed, err := b.inputs(ctx)
	if err != nil {
		return Result{}, err
	}
	b.log.Debug("resolved base image", "image", b.baseRef.String(), "digest", base.digest.String())

	d, err := b.deps(ctx, base)
	if err != nil {
		return Result{}, err
	}
	var faketimeLib string
	if b.faketime {
		info, err := b.inspect(ctx, base)
		if err != nil {
			return Result{}, fmt.Errorf("base image %q: %w", b.baseRef, err)
		}
		faketimeLib = info.faketime
		b.log.Debug("looked for libfaketime in the base image", "library", faketimeLib)
	}
	img, err := b.assemble(base, d, bin, source)
	if err != nil {
		return Result{}, fmt.Errorf("assembling image: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	ref := b.repo.Digest(digest.String())
	if err := remote.Write(ref, img, b.remote(ctx)...); err != nil {
		return Result{}, fmt.Errorf("repository %q: pushing image: %w", b.repo, classifyRegistryError(b.repo.RegistryStr(), err))
	}

	res := Result{
		Image:            ref.String(),
		Digest:           digest,
		BaseDigest:       base.digest,
		PythonVersion:    d.python,
		PipRan:           d.pipRan,
		BinaryCompressed: binCompressed,
		BaseInspected:    b.baseInspected,
		UploadedBlobs:    int(b.uploads.blobs.Load()),
		UploadedBytes:    b.uploads.bytes.Load(),
		FaketimeLibrary:  faketimeLib,
	}
	b.log.Info("pushed image", "image", res.Image, "uploaded_blobs", res.UploadedBlobs,
		"uploaded_bytes", res.UploadedBytes, "pip_ran", res.PipRan,
		"binary_compressed", res.BinaryCompressed, "base_inspected", res.BaseInspected, "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// inputs resolves the base image and makes the layers of the sources and
// of the binary, all three at once.
func (b *builder) inputs(ctx context.Context) (base *baseImage, source, bin v1.Layer, binCompressed bool, err error) {
	var g errgroup.Group
	g.Go(func() error {
		var err error
		// The image keeps the context for fetching its layers later, so it
		// gets the build's, not one that ends with this group.
		if base, err = resolveBase(b.baseRef, b.platform, b.remote(ctx)); err != nil {
			return fmt.Errorf("base image %q: %w", b.baseRef, err)
		}
		return nil
	})
	g.Go(func() error {
		pm, file, err := ignoreMatcher(b.projectDir, b.ignoreFile)
		if err != nil {
			return err
		}
		if source, err = sourceLayer(b.tmpDir, b.projectDir, pm, types.DockerLayer); err != nil {
			return fmt.Errorf("project directory %q: %w", b.projectDir, err)
		}
		b.log.Debug("archived sources", "ignore_file", file, "digest", digestOf(source))
		return nil
	})
	g.Go(func() error {
		var err error
		if bin, binCompressed, err = b.binaryLayer(); err != nil {
			return fmt.Errorf("binary %q: %w", b.binary, err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, nil, nil, false, err
	}
	return base, source, bin, binCompressed, nil
}

// FaketimeLibrary resolves the base image of opts for its platform and
// returns where it has Debian's libfaketime, or "" when it has none; what
// it learns is kept in the build cache, as Build keeps it.
func FaketimeLibrary(ctx context.Context, opts Options) (string, error) {
	b, err := newBuilder(opts)
	if err != nil {
		return "", err
	}
	base, err := resolveBase(b.baseRef, b.platform, b.remote(ctx))
	if err != nil {
		return "", fmt.Errorf("base image %q: %w", b.baseRef, err)
	}
	info, err := b.inspect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("base image %q: %w", b.baseRef, err)
	}
	return info.faketime, nil
}

// assemble stacks the new layers on the base, least often changed first,
// and sets the config the test pods rely on.
func (b *builder) assemble(base *baseImage, d deps, bin, source v1.Layer) (v1.Image, error) {
	layerType := types.DockerLayer
	if base.oci {
		layerType = types.OCILayer
	}
	var adds []mutate.Addendum
	add := func(l v1.Layer, what string) {
		adds = append(adds, mutate.Addendum{
			Layer:     l,
			MediaType: layerType,
			History:   v1.History{CreatedBy: "k8s-testrun: " + what},
		})
	}
	if d.layer != nil {
		add(d.layer, "dependencies at "+layout.DepsDir)
	}
	add(bin, "binary at "+layout.BinaryPath)
	add(source, "sources at "+layout.WorkDir)
	img, err := mutate.Append(base.image, adds...)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	// Times come from the inputs only, so an unchanged build has the same
	// config digest.
	cfg.Created = v1.Time{}
	if cfg.OS == "" {
		cfg.OS, cfg.Architecture, cfg.Variant = b.platform.OS, b.platform.Architecture, b.platform.Variant
	}
	cfg.Config.WorkingDir = layout.WorkDir
	// Pods always name their command.
	cfg.Config.Entrypoint = nil
	cfg.Config.Cmd = nil
	env := setEnv(cfg.Config.Env, "PYTHONDONTWRITEBYTECODE", "1")
	if d.layer != nil {
		env = prependPath(env, "PYTHONPATH", layout.DepsDir)
	}
	cfg.Config.Env = env
	return mutate.ConfigFile(img, cfg)
}

// setEnv sets key=value in env, replacing an existing value in place.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			if !found {
				out = append(out, key+"="+value)
			}
			found = true
			continue
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, key+"="+value)
	}
	return out
}

// prependPath puts dir first in the path list key.
func prependPath(env []string, key, dir string) []string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok && v != "" {
			return setEnv(env, key, dir+":"+v)
		}
	}
	return setEnv(env, key, dir)
}

// remote returns the options of every registry call of this build.
func (b *builder) remote(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(b.uploads),
		remote.WithAuthFromKeychain(b.keychain),
	}
}

func digestOf(l v1.Layer) string {
	h, err := l.Digest()
	if err != nil {
		return ""
	}
	return h.String()
}
