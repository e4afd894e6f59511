package build

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// OperatorImageOptions describe the operator's image: the k8s-testrun CLI
// alone, at layout.BinaryPath, where the operator's Deployment runs it. Test
// images carry only the pod binary, which has no operator role.
type OperatorImageOptions struct {
	// Binary is the static linux k8s-testrun CLI; Platform is its platform.
	Binary   string
	Platform v1.Platform
	// Repository receives the image, pushed by digest.
	Repository string
	// Insecure, Transport, Keychain and Logger are as in Options.
	Insecure  bool
	Transport http.RoundTripper
	Keychain  authn.Keychain
	Logger    *slog.Logger
}

// OperatorImage pushes the operator's image: no base, one layer with the
// binary. The layer is made as the test image's binary layer is, so the same
// binary gives the same digest and a second push uploads nothing.
func OperatorImage(ctx context.Context, o OperatorImageOptions) (Result, error) {
	start := time.Now()
	if o.Binary == "" || o.Repository == "" {
		return Result{}, errors.New("operator image: binary and repository are required")
	}
	if info, err := os.Stat(o.Binary); err != nil {
		return Result{}, &notExistError{what: "binary", path: o.Binary, err: err}
	} else if !info.Mode().IsRegular() {
		return Result{}, fmt.Errorf("binary %q is not a regular file", o.Binary)
	}
	repo, err := name.NewRepository(o.Repository, NameOptions(o.Repository, o.Insecure)...)
	if err != nil {
		return Result{}, fmt.Errorf("repository %q: %w", o.Repository, err)
	}
	remoteDefaults(&o.Transport, &o.Keychain, &o.Logger)
	tmp, err := os.MkdirTemp("", "k8s-testrun-operator-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(tmp)
	layer, err := binaryLayerIn(tmp, "layer-*.tar.gz", o.Binary)
	if err != nil {
		return Result{}, fmt.Errorf("binary %q: %w", o.Binary, err)
	}
	cfg, err := empty.Image.ConfigFile()
	if err != nil {
		return Result{}, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = o.Platform.OS, o.Platform.Architecture, o.Platform.Variant
	cfg.Config.Entrypoint = []string{layout.BinaryPath}
	cfg.Config.Cmd = []string{"operator"}
	// The operator needs no privilege; the Deployment says so too.
	cfg.Config.User = "65532:65532"
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return Result{}, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.DockerLayer,
		History:   v1.History{CreatedBy: "k8s-testrun: the k8s-testrun binary at " + layout.BinaryPath + " (the operator)"},
	})
	if err != nil {
		return Result{}, err
	}
	uploads := &uploadCounter{next: o.Transport}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(uploads), remote.WithAuthFromKeychain(o.Keychain)}
	res, err := pushByDigest(repo, img, ropts, uploads, "the operator's image")
	if err != nil {
		return Result{}, err
	}
	o.Logger.Debug("pushed the operator's image", "image", res.Image, "uploaded_blobs", res.UploadedBlobs,
		"uploaded_bytes", res.UploadedBytes, "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}
