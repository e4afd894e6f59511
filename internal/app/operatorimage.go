package app

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
)

// operatorImage settles the image the operator's Deployment runs: the one
// --image gives, or, with --repository, an image of this k8s-testrun alone,
// pushed there. Test images carry only the pod binary, which has no
// operator role.
func operatorImage(ctx context.Context, o *installOptions, env Env) error {
	switch {
	case o.image != "" && o.repository != "":
		return errors.New("install: give --image or --repository, not both")
	case o.image != "":
		return nil
	case o.repository == "":
		return errors.New("install: --image is required, or --repository: give --repository REPO to push this k8s-testrun there as the operator's image, or --image IMAGE of an image that carries it (as --repository pushes it)")
	}
	self, err := env.Executable()
	if err != nil {
		return fmt.Errorf("locating the k8s-testrun binary for the operator's image: %w (give --image)", err)
	}
	res, err := build.OperatorImage(ctx, build.OperatorImageOptions{
		Binary:     self,
		Platform:   v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH},
		Repository: o.repository,
		Logger:     logger(env.Stderr, false),
	})
	if err != nil {
		return err
	}
	if o.image, err = pullReference(res.Image, o.pullRegistry); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "the operator's image: %s (%d bytes uploaded)\n", o.image, res.UploadedBytes)
	return nil
}
