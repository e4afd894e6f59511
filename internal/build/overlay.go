package build

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OverlayFile is one file of an overlay layer: Src on this machine, at
// Path (absolute) in the image.
type OverlayFile struct {
	Path, Src string
}

// OverlayOptions describe an image made of a pushed image and one more
// layer of files, such as the coverage data of a run on top of its test
// image. Image and Files are required.
type OverlayOptions struct {
	// Image is the pushed image by digest, as Build's Result.Image names it
	// before any pull registry rewrites it. The new image is pushed by
	// digest to the same repository, so only the new layer, the config and
	// the manifest travel.
	Image string
	Files []OverlayFile
	// What says in the layer's history what it holds.
	What string
	// Insecure, Transport, Keychain and Logger are as in Options.
	Insecure  bool
	Transport http.RoundTripper
	Keychain  authn.Keychain
	Logger    *slog.Logger
}

// Overlay pushes o.Image with o.Files added as one layer, and returns the
// new image; Result has Image, Digest and the upload counts set.
func Overlay(ctx context.Context, o OverlayOptions) (Result, error) {
	start := time.Now()
	if len(o.Files) == 0 {
		return Result{}, errors.New("overlay: no files")
	}
	ref, err := name.NewDigest(o.Image, NameOptions(o.Image, o.Insecure)...)
	if err != nil {
		return Result{}, fmt.Errorf("overlay: image %q is not a digest reference: %w", o.Image, err)
	}
	remoteDefaults(&o.Transport, &o.Keychain, &o.Logger)
	uploads := &uploadCounter{next: o.Transport}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(uploads), remote.WithAuthFromKeychain(o.Keychain)}
	registry := ref.Context().RegistryStr()

	img, err := remote.Image(ref, ropts...)
	if err != nil {
		return Result{}, fmt.Errorf("overlay: reading image %s: %w", o.Image, classifyRegistryError(registry, err))
	}
	mt, err := img.MediaType()
	if err != nil {
		return Result{}, fmt.Errorf("overlay: reading image %s: %w", o.Image, err)
	}
	layerType := types.DockerLayer
	if mt == types.OCIManifestSchema1 {
		layerType = types.OCILayer
	}
	tmp, err := os.MkdirTemp("", "k8s-testrun-overlay-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(tmp)
	layer, err := overlayLayer(tmp, o.Files, layerType)
	if err != nil {
		return Result{}, fmt.Errorf("overlay: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: layerType,
		History:   v1.History{CreatedBy: "k8s-testrun: " + o.What},
	})
	if err != nil {
		return Result{}, fmt.Errorf("overlay: %w", err)
	}
	res, err := pushByDigest(ref.Context(), img, ropts, uploads, "image")
	if err != nil {
		return Result{}, err
	}
	o.Logger.Debug("pushed image", "image", res.Image, "layer", o.What, "uploaded_blobs", res.UploadedBlobs,
		"uploaded_bytes", res.UploadedBytes, "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// remoteDefaults fills in the registry transport, keychain and logger that
// options left unset.
func remoteDefaults(transport *http.RoundTripper, keychain *authn.Keychain, logger **slog.Logger) {
	if *transport == nil {
		*transport = remote.DefaultTransport
	}
	if *keychain == nil {
		*keychain = authn.DefaultKeychain
	}
	if *logger == nil {
		*logger = slog.New(slog.DiscardHandler)
	}
}

// pushByDigest pushes img to repo by its digest; what names the image in
// an error. uploads counts what travelled through ropts' transport.
func pushByDigest(repo name.Repository, img v1.Image, ropts []remote.Option, uploads *uploadCounter, what string) (Result, error) {
	digest, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	out := repo.Digest(digest.String())
	if err := remote.Write(out, img, ropts...); err != nil {
		return Result{}, fmt.Errorf("repository %q: pushing %s: %w", repo.String(), what, classifyRegistryError(repo.RegistryStr(), err))
	}
	return Result{
		Image:         out.String(),
		Digest:        digest,
		UploadedBlobs: int(uploads.blobs.Load()),
		UploadedBytes: uploads.bytes.Load(),
	}, nil
}

// overlayLayer archives files, in the order given, into a layer.
func overlayLayer(tmpDir string, files []OverlayFile, mt types.MediaType) (v1.Layer, error) {
	w, err := newLayerWriter(tmpDir)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			w.abort()
			return nil, fmt.Errorf("%q is not an absolute path in the image", f.Path)
		}
		if err := w.file(f.Path, f.Src, false); err != nil {
			w.abort()
			return nil, err
		}
	}
	return w.close(mt)
}
