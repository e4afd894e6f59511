package app

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/plan"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/testid"
)

// base is one base image of a run, the test image built on it and what
// discovery found in that image. A run of several is a runtime matrix:
// every test runs on every base.
type base struct {
	ref   string
	image build.Result
	found discover.Collection
}

// buildBases builds a test image on each base image, one after another:
// the dependencies layer is each base's own, and the source and binary
// layers, the same for every base, are uploaded once. p.image is the
// first base's image.
func (p *pipeline) buildBases(ctx context.Context) ([]*base, error) {
	var bases []*base
	for _, ref := range p.cfg.BaseImages {
		img, err := p.build(ctx, ref)
		if err != nil {
			if len(p.cfg.BaseImages) > 1 {
				err = fmt.Errorf("base image %s: %w", ref, err)
			}
			return nil, err
		}
		bases = append(bases, &base{ref: ref, image: img})
	}
	p.image = bases[0].image
	return bases, nil
}

// discoverBases discovers the tests in each base's image, all at once:
// the ids can differ by Python or pytest version.
func (p *pipeline) discoverBases(ctx context.Context, bases []*base) error {
	if len(bases) == 1 {
		found, err := p.discover(ctx, bases[0], "discover")
		bases[0].found = found
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, b := range bases {
		g.Go(func() error {
			found, err := p.discover(gctx, b, fmt.Sprintf("discover-b%d", i))
			if err != nil {
				return fmt.Errorf("base image %s: %w", b.ref, err)
			}
			b.found = found
			return nil
		})
	}
	return g.Wait()
}

// casesOf makes the cases of the i-th base from what its discovery found:
// the selected tests, with their faketime and lane. In a matrix each runs
// in the base's own image under an ID of the base's.
func (p *pipeline) casesOf(ctx context.Context, i int, b *base) ([]plan.Case, error) {
	ids := p.rerunOnly(b.found.IDs)
	markers := b.found.Markers
	matrix := len(p.cfg.BaseImages) > 1
	cases := make([]plan.Case, len(ids))
	for j, id := range ids {
		c := plan.Case{ID: testid.BaseCaseID(id, i), TestID: id, Faketime: p.cfg.Faketime, Base: i}
		if v, ok := markers[id]; ok {
			c.Faketime = v
		}
		c.Lane = plan.LaneOf(b.found.Marks[id], p.cfg.LaneMarkers)
		if matrix {
			c.Image = b.image.Image
		}
		cases[j] = c
	}
	if err := p.checkFaketime(ctx, b, cases, markers); err != nil {
		return nil, err
	}
	if p.cfg.Coverage && b.found.Coverage == "" {
		return nil, noImageCoverage(b.ref)
	}
	return cases, nil
}

// faketimeLibrary is the libfaketime the pods preload: the same path in
// every base that has it, as every Debian base does.
func faketimeLibrary(bases []*base) (string, error) {
	lib, libRef := "", ""
	for _, b := range bases {
		switch l := b.image.FaketimeLibrary; {
		case l == "":
		case lib == "":
			lib, libRef = l, b.ref
		case l != lib:
			return "", fmt.Errorf("the base images keep libfaketime at different paths (%s in %s, %s in %s): run the faketime tests on bases of one layout, or one base at a time",
				lib, libRef, l, b.ref)
		}
	}
	return lib, nil
}

// reportBases describes a matrix's bases for the report; nil for one base.
func reportBases(bases []*base) []report.Base {
	if len(bases) < 2 {
		return nil
	}
	out := make([]report.Base, len(bases))
	for i, b := range bases {
		out[i] = report.Base{
			Ref: b.ref, Image: b.image.Image, Digest: b.image.Digest.String(),
			Python: b.found.Versions.Python, Pytest: b.found.Versions.Pytest,
		}
	}
	return out
}
