package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/k8s-testrun/k8s-testrun/internal/layout"
)

// depsRecipe names the way the dependencies layer is made. It is part of
// the cache key, so changing how pip is run must change it.
const depsRecipe = "k8s-testrun deps v1"

// Labels of a cached dependencies image. They record what was learnt about
// the base, so a cache hit needs no look at the base's layers.
const (
	labelPython = "dev.k8s-testrun.python-version"
	labelPytest = "dev.k8s-testrun.pytest" // "base", "requirements" or "added"
)

// deps is the outcome of the dependencies step.
type deps struct {
	layer  v1.Layer // nil when the base needs nothing added
	python string
	pipRan bool
}

// depsTag is the cache tag for one requirements file on one base. The base
// digest is platform-specific and fixes the Python version, so it and the
// requirements are all the key needs; the platform is named for clarity.
// Files the requirements chain in with -r and -c come appended to
// requirements; files they point at (--find-links) are not part of the key.
func depsTag(repo name.Repository, requirements []byte, hasRequirements bool, baseDigest v1.Hash, platform v1.Platform) name.Tag {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nbase %s\nplatform %s\n", depsRecipe, baseDigest, platformString(platform))
	if hasRequirements {
		fmt.Fprintf(h, "requirements %d\n", len(requirements))
		h.Write(requirements)
	} else {
		fmt.Fprintf(h, "no requirements\n")
	}
	return repo.Tag("deps-" + hex.EncodeToString(h.Sum(nil))[:32])
}

// deps returns the dependencies layer, from the cache in the target
// repository when it has the one this machine recorded for this key,
// otherwise by running pip and filling the cache.
func (b *builder) deps(ctx context.Context, base *baseImage) (deps, error) {
	// The workspace is made only when host Python runs at all.
	var ws *workspace
	defer func() {
		if ws != nil {
			ws.remove()
		}
	}()
	workspace := func() (*workspace, error) {
		if ws != nil {
			return ws, nil
		}
		w, err := newWorkspace(b.pipCred)
		ws = w
		return w, err
	}
	var checked checkedRequirements
	if b.requirements != "" {
		// Before anything else: pip must never see a line that would let it
		// run a package's build code or read a file outside the project.
		w, err := workspace()
		if err != nil {
			return deps{}, err
		}
		if checked, err = b.checkRequirements(ctx, w); err != nil {
			return deps{}, err
		}
	}
	tag := depsTag(b.repo, checked.key, b.requirements != "", base.digest, b.platform)
	if d, ok, err := b.cachedDeps(ctx, tag); err != nil || ok {
		return d, err
	}

	info, err := b.inspect(ctx, base)
	if err != nil {
		return deps{}, fmt.Errorf("base image %q: %w", b.baseRef, err)
	}
	pytestFrom := "added"
	switch {
	case info.pytest:
		pytestFrom = "base"
	case b.requirements != "" && requiresPytest(checked.key):
		pytestFrom = "requirements"
	}
	b.log.Debug("inspected base image", "python", info.python, "pytest", info.pytest, "musl", info.musl, "glibc", info.glibc, "faketime", info.faketime)

	d := deps{python: info.python}
	if b.requirements != "" || pytestFrom == "added" {
		w, err := workspace()
		if err != nil {
			return deps{}, err
		}
		if d.layer, err = b.installDeps(ctx, w, info, checked.top, pytestFrom == "added"); err != nil {
			return deps{}, err
		}
		d.pipRan = true
	}
	if err := b.pushDepsCache(ctx, tag, d, pytestFrom, base.oci); err != nil {
		return deps{}, err
	}
	b.recordDeps(tag, d, pytestFrom)
	return d, nil
}

// The dependencies cache tag lives in a repository that test pods may be
// able to push to, so a tag alone proves nothing: this machine keeps, in
// its build cache, the layer each key's run of ours pushed, and a tag is
// only reused when its layer is that one. A machine without the record (a
// fresh CI runner whose cache directory is not kept) rebuilds once.
const (
	depsRecordKind  = "deps"
	depsRecordsKept = 256
)

// depsRecord is what a run of ours pushed under a dependencies cache tag.
type depsRecord struct {
	// Layer and DiffID are the layer's digests; "" when the base needed
	// nothing added.
	Layer  string `json:"layer"`
	DiffID string `json:"diff_id"`
	Python string `json:"python"`
	Pytest string `json:"pytest"`
}

func depsRecordKey(tag name.Tag) string { return cacheKey(depsRecordKind, tag.String()) }

// recordDeps keeps what was pushed under tag; a record that cannot be
// written costs a rebuild next time, never this build.
func (b *builder) recordDeps(tag name.Tag, d deps, pytestFrom string) {
	if b.cache == nil {
		return
	}
	rec := depsRecord{Python: d.python, Pytest: pytestFrom}
	if d.layer != nil {
		digest, err := d.layer.Digest()
		if err != nil {
			return
		}
		diffID, err := d.layer.DiffID()
		if err != nil {
			return
		}
		rec.Layer, rec.DiffID = digest.String(), diffID.String()
	}
	if err := b.cache.writeJSON(depsRecordKind, depsRecordKey(tag), rec); err != nil {
		b.log.Warn("could not record the dependencies layer in the build cache", "error", err)
		return
	}
	b.cache.prune(depsRecordKind, ".json", depsRecordsKept)
}

// cachedDeps looks the tag up; a tag that is missing, that this machine
// has no record of, or whose layer is not the recorded one, is a miss.
func (b *builder) cachedDeps(ctx context.Context, tag name.Tag) (deps, bool, error) {
	var rec depsRecord
	if b.cache == nil || !b.cache.readJSON(depsRecordKind, depsRecordKey(tag), &rec) {
		b.log.Debug("dependencies cache miss: no record of this key on this machine", "tag", tag.TagStr())
		return deps{}, false, nil
	}
	img, err := remote.Image(tag, b.remote(ctx)...)
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound ||
		terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		// Some registries answer 401 or 403 for a repository that does not
		// exist yet; a real permission problem shows up at push time.
		b.log.Debug("dependencies cache miss", "tag", tag.TagStr())
		return deps{}, false, nil
	}
	if err != nil {
		return deps{}, false, fmt.Errorf("repository %q: %w", b.repo, classifyRegistryError(b.repo.RegistryStr(), err))
	}
	layers, err := img.Layers()
	if err != nil {
		return deps{}, false, fmt.Errorf("reading %s: %w", tag, err)
	}
	if !recordedLayers(layers, rec) {
		b.log.Warn("ignoring a dependencies cache tag whose layer is not the one this machine recorded for it", "tag", tag.String())
		return deps{}, false, nil
	}
	d := deps{python: rec.Python}
	if len(layers) == 1 {
		d.layer = layers[0]
	}
	b.cache.touch(depsRecordKind, depsRecordKey(tag), ".json")
	b.log.Debug("dependencies cache hit", "tag", tag.TagStr(), "layers", len(layers))
	return d, true, nil
}

// recordedLayers tells whether layers are exactly the recorded layer (or
// none when none was recorded).
func recordedLayers(layers []v1.Layer, rec depsRecord) bool {
	if rec.Python == "" {
		return false
	}
	if rec.Layer == "" {
		return len(layers) == 0
	}
	if len(layers) != 1 {
		return false
	}
	digest, err := layers[0].Digest()
	if err != nil || digest.String() != rec.Layer {
		return false
	}
	diffID, err := layers[0].DiffID()
	return err == nil && diffID.String() == rec.DiffID
}

// installDeps runs pip on the build side for the base's interpreter and
// platform and archives what it installed at layout.DepsDir.
func (b *builder) installDeps(ctx context.Context, ws *workspace, info baseInfo, requirements string, addPytest bool) (v1.Layer, error) {
	platforms, err := wheelPlatforms(b.platform, info)
	if err != nil {
		return nil, err
	}
	p := pipInstall{
		pip:       b.pip,
		ws:        ws,
		python:    info.python,
		platforms: platforms,
		addPytest: addPytest,
		env:       b.pythonEnv(ws),
	}
	if requirements != "" {
		p.requirements = filepath.Join(ws.src, filepath.FromSlash(requirements))
	}
	b.log.Info("installing dependencies", "requirements", b.requirements, "pytest", addPytest,
		"python", info.python, "platform", platformString(b.platform))
	out, err := p.run(ctx)
	b.log.Debug("pip finished", "output", string(out))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return nil, fmt.Errorf("running pip (%s): %w", strings.Join(b.pip, " "), err)
		}
		return nil, &PipError{
			Requirements:  b.requirements,
			PythonVersion: info.python,
			Platform:      platformString(b.platform),
			Output:        lastLines(out, 12),
			Err:           err,
		}
	}
	w, err := newLayerWriter(b.tmpDir)
	if err != nil {
		return nil, err
	}
	// Console scripts name the build side's interpreter in their shebang, so
	// they could not run in the image; tests use "python -m pytest".
	skipScripts := func(rel string, _ fs.DirEntry) (walkDecision, error) {
		keep := rel != "bin"
		return walkDecision{include: keep, descend: keep}, nil
	}
	if err := w.tree(layout.DepsDir, ws.target, skipScripts); err != nil {
		w.abort()
		return nil, fmt.Errorf("archiving dependencies: %w", err)
	}
	layer, err := w.close(types.DockerLayer)
	if err != nil {
		return nil, fmt.Errorf("archiving dependencies: %w", err)
	}
	return layer, nil
}

// pushDepsCache stores d under tag as a small image: the dependencies layer,
// if any, and labels recording what the base already provides. The layer
// blob is the one the test image uses, so it travels once.
func (b *builder) pushDepsCache(ctx context.Context, tag name.Tag, d deps, pytestFrom string, oci bool) error {
	img := empty.Image
	layerType := types.DockerLayer
	if oci {
		img = mutate.MediaType(mutate.ConfigMediaType(img, types.OCIConfigJSON), types.OCIManifestSchema1)
		layerType = types.OCILayer
	}
	var err error
	if d.layer != nil {
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     d.layer,
			MediaType: layerType,
			History:   v1.History{CreatedBy: "k8s-testrun: pip install"},
		})
		if err != nil {
			return err
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = b.platform.OS, b.platform.Architecture, b.platform.Variant
	cfg.Config.Labels = map[string]string{labelPython: d.python, labelPytest: pytestFrom}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	if err := remote.Write(tag, img, b.remote(ctx)...); err != nil {
		return fmt.Errorf("repository %q: caching dependencies: %w", b.repo, classifyRegistryError(b.repo.RegistryStr(), err))
	}
	return nil
}
