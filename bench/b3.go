package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
)

// B3Target bounds build / crane append, in time and in bytes.
const B3Target = 1.1

// The B3 project: trivial tests beside a package of generated modules, so
// the sources layer weighs what a small real project's does.
const (
	b3Tests   = 100
	b3Modules = 40
	b3Size    = 400 << 10
	// b3Touched is the file changed before each warm rebuild.
	b3Touched = "tests/test_trivial_000.py"
)

// b3 times a cold build and push, then a warm
// rebuild after one source file changed, each against crane append of the
// same new layers onto the same base (go-containerregistry's own code,
// pkg/crane, in this process). Bytes are those the registry received for
// blobs, against the compressed size of the layers that were new to it.
func b3(ctx context.Context, s *Session, o Options) (Figure, error) {
	f := Figure{ID: "B3", Name: "build and push", Target: fmt.Sprintf("≤ %.1f time and bytes", B3Target)}
	dir := filepath.Join(s.Dir, "b3")
	if err := WriteLibraryProject(dir, b3Tests, b3Modules, b3Size); err != nil {
		return f, err
	}
	baseLayers, err := s.baseLayers(ctx)
	if err != nil {
		return f, err
	}
	// The build cache starts empty: the first cold build also inspects the
	// base; later ones find it in the cache, as any build on a machine that
	// has built on this base before. No build finds its binary there.
	cacheDir := filepath.Join(s.Dir, "b3-cache")
	var coldBuild, coldCrane, warmBuild, warmCrane []time.Duration
	var coldBytes, coldLayers, warmBytes, warmLayers, coldCraneBytes, warmCraneBytes []int64
	for rep := 1; rep <= o.B3Reps; rep++ {
		// The registry keeps blobs across repositories, so a cold push needs
		// layers it has never seen: a nonce in the sources and after the
		// binary's end (the loader ignores trailing bytes).
		nonce := fmt.Sprintf("%s-%d-%d", s.ID, rep, time.Now().UnixNano())
		if err := os.WriteFile(filepath.Join(dir, "app", "_nonce.py"), []byte("NONCE = "+strconv.Quote(nonce)+"\n"), 0o644); err != nil {
			return f, err
		}
		binary, err := nonceBinary(s.PodBinary, filepath.Join(s.Dir, "b3-k8s-testrun-pod"), nonce)
		if err != nil {
			return f, err
		}
		repo := fmt.Sprintf("b3-%s-%d", s.ID, rep)
		s.Log.Info("B3 cold build", "repetition", rep)
		t0 := time.Now()
		cold, err := s.b3Build(ctx, dir, repo, binary, cacheDir)
		if err != nil {
			return f, err
		}
		coldBuild = append(coldBuild, time.Since(t0))
		coldTars, coldNew, err := newLayers(ctx, cold.Image, baseLayers, nil, filepath.Join(s.Dir, "b3-cold"))
		if err != nil {
			return f, err
		}
		coldBytes = append(coldBytes, cold.UploadedBytes)
		coldLayers = append(coldLayers, coldNew.size)

		craneRepo := fmt.Sprintf("%s/ktr-bench/b3-crane-%s-%d", s.Registry, s.ID, rep)
		d, n, err := s.craneAppend(ctx, coldTars, craneRepo+":cold")
		if err != nil {
			return f, err
		}
		coldCrane, coldCraneBytes = append(coldCrane, d), append(coldCraneBytes, n)

		if err := appendLine(filepath.Join(dir, b3Touched), fmt.Sprintf("# touched for rebuild %d of %s\n", rep, s.ID)); err != nil {
			return f, err
		}
		s.Log.Info("B3 warm build", "repetition", rep)
		t0 = time.Now()
		warm, err := s.b3Build(ctx, dir, repo, binary, cacheDir)
		if err != nil {
			return f, err
		}
		warmBuild = append(warmBuild, time.Since(t0))
		warmTars, warmNew, err := newLayers(ctx, warm.Image, baseLayers, coldNew.digests, filepath.Join(s.Dir, "b3-warm"))
		if err != nil {
			return f, err
		}
		warmBytes = append(warmBytes, warm.UploadedBytes)
		warmLayers = append(warmLayers, warmNew.size)
		d, n, err = s.craneAppend(ctx, warmTars, craneRepo+":warm")
		if err != nil {
			return f, err
		}
		warmCrane, warmCraneBytes = append(warmCrane, d), append(warmCraneBytes, n)
		f.Notes = append(f.Notes, fmt.Sprintf("rep %d: cold build %s (%d B up, new layers %d B; %s), crane %s (%d B up); warm build %s (%d B up, new layer %d B; %s), crane %s (%d B up)",
			rep, ms(coldBuild[rep-1]), cold.UploadedBytes, coldNew.size, cacheUse(cold), ms(coldCrane[rep-1]), coldCraneBytes[rep-1],
			ms(warmBuild[rep-1]), warm.UploadedBytes, warmNew.size, cacheUse(warm), ms(warmCrane[rep-1]), warmCraneBytes[rep-1]))
		if cold.BaseInspected {
			f.Notes = append(f.Notes, fmt.Sprintf("rep %d's cold build found the build cache empty: %s / crane append %s = %.2f",
				rep, ms(coldBuild[rep-1]), ms(coldCrane[rep-1]), coldBuild[rep-1].Seconds()/coldCrane[rep-1].Seconds()))
		}
	}
	ratio := func(a, b time.Duration) float64 { return a.Seconds() / b.Seconds() }
	coldT, warmT := ratio(median(coldBuild), median(coldCrane)), ratio(median(warmBuild), median(warmCrane))
	coldB := float64(medianInt(coldBytes)) / float64(medianInt(coldLayers))
	warmB := float64(medianInt(warmBytes)) / float64(medianInt(warmLayers))
	f.Notes = append(f.Notes,
		fmt.Sprintf("cold: build %s / crane append %s = %.2f; bytes %d / new layers %d = %.3f",
			ms(median(coldBuild)), ms(median(coldCrane)), coldT, medianInt(coldBytes), medianInt(coldLayers), coldB),
		fmt.Sprintf("warm: build %s / crane append %s = %.2f; bytes %d / new layer %d = %.3f",
			ms(median(warmBuild)), ms(median(warmCrane)), warmT, medianInt(warmBytes), medianInt(warmLayers), warmB),
		"bytes count every blob upload, the image config included; medians of the repetitions")
	f.Value = fmt.Sprintf("cold %.2f/%.2f, warm %.2f/%.2f (time/bytes)", coldT, coldB, warmT, warmB)
	f.Pass = coldT <= B3Target && warmT <= B3Target && coldB <= B3Target && warmB <= B3Target
	return f, nil
}

// b3Build builds as the CLI does, with the build cache in cacheDir.
func (s *Session) b3Build(ctx context.Context, dir, repo, binary, cacheDir string) (build.Result, error) {
	res, err := build.Build(ctx, build.Options{
		ProjectDir: dir,
		Repository: s.Registry + "/ktr-bench/" + repo,
		BaseImage:  s.BaseImage,
		Binary:     binary,
		Platform:   platform(),
		CacheDir:   cacheDir,
		Logger:     s.Log.With("component", "build"),
	})
	if err != nil {
		return res, fmt.Errorf("building %s: %w", dir, err)
	}
	return res, nil
}

// cacheUse says what a build took from the build cache.
func cacheUse(r build.Result) string {
	bin, base := "binary compressed", "base inspected"
	if !r.BinaryCompressed {
		bin = "binary layer cached"
	}
	if !r.BaseInspected {
		base = "base known"
	}
	return bin + ", " + base
}

// nonceBinary copies binary to path with nonce appended.
func nonceBinary(binary, path, nonce string) (string, error) {
	b, err := os.ReadFile(binary)
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, append(b, nonce...), 0o755)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func appendLine(path, line string) error {
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := fh.WriteString(line); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// baseLayers returns the digests of the base image's layers.
func (s *Session) baseLayers(ctx context.Context) (map[v1.Hash]bool, error) {
	img, err := crane.Pull(s.BaseImage, crane.WithContext(ctx), crane.WithPlatform(ptrTo(platform())))
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", s.BaseImage, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	out := map[v1.Hash]bool{}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		out[d] = true
	}
	return out, nil
}

type layerSet struct {
	digests map[v1.Hash]bool
	// size is the compressed size of the layers that were new.
	size int64
}

// newLayers writes the uncompressed tar of every layer of image that is not
// the base's to dir, in order, for crane to append. The layers also not in
// known are the ones new to the registry; their compressed size is counted.
func newLayers(ctx context.Context, image string, base, known map[v1.Hash]bool, dir string) ([]string, layerSet, error) {
	set := layerSet{digests: map[v1.Hash]bool{}}
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, set, err
	}
	img, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		return nil, set, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, set, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, set, err
	}
	var paths []string
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, set, err
		}
		if base[d] {
			continue
		}
		set.digests[d] = true
		if !known[d] {
			size, err := l.Size()
			if err != nil {
				return nil, set, err
			}
			set.size += size
		}
		path := filepath.Join(dir, fmt.Sprintf("layer-%d.tar", len(paths)))
		if err := writeUncompressed(l, path); err != nil {
			return nil, set, err
		}
		paths = append(paths, path)
	}
	return paths, set, nil
}

func writeUncompressed(l v1.Layer, path string) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(fh, rc); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// craneAppend does what `crane append -b BASE -f TAR... -t DST` does, and
// returns its time and the blob bytes it uploaded.
func (s *Session) craneAppend(ctx context.Context, tars []string, dst string) (time.Duration, int64, error) {
	counter := &byteCounter{next: remote.DefaultTransport}
	opts := []crane.Option{crane.WithContext(ctx), crane.WithTransport(counter), crane.WithPlatform(ptrTo(platform()))}
	start := time.Now()
	base, err := crane.Pull(s.BaseImage, opts...)
	if err != nil {
		return 0, 0, fmt.Errorf("crane: pulling base: %w", err)
	}
	img, err := crane.Append(base, tars...)
	if err != nil {
		return 0, 0, fmt.Errorf("crane: appending: %w", err)
	}
	if err := crane.Push(img, dst, opts...); err != nil {
		return 0, 0, fmt.Errorf("crane: pushing %s: %w", dst, err)
	}
	return time.Since(start), counter.n.Load(), nil
}

func ptrTo[T any](v T) *T { return &v }
