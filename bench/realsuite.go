package bench

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// The real suite is pyflakes's own test suite as Debian's python3-pyflakes
// ships it: about 750 tests in 12 modules, pure Python, quick (the whole
// suite runs in about 3 s in one process), needing no network. Five tests
// fail in any image made from the package (IntegrationTests run the
// source tree's bin/pyflakes, which the package does not ship) and some are
// skipped on this Python version, so the suite has every verdict.
const (
	RealSuitePackage = "python3-pyflakes"
	// realSuiteTests is where the package keeps its tests in the root
	// filesystem tar.
	realSuiteTests = "usr/lib/python3/dist-packages/pyflakes/test/"
	// realSuiteDir is where the project holds its copy of them. Not
	// "test": that name is the standard library's test package.
	realSuiteDir = "tests"
)

// RealSuite is the real suite made ready to run.
type RealSuite struct {
	// Base is the base image by digest: Debian minbase, Python, pytest and
	// the package whose tests these are.
	Base string
	// Image is the test image k8s-testrun builds on Base from Dir.
	Image string
	// Dir is the project: the package's tests copied out of it.
	Dir string
	// Selection is pytest's selection after "--", if the suite was cut.
	Selection []string
	// IDs are the test ids k8s-testrun's discovery finds in Image.
	IDs []string
}

// RealSuite builds, once per session, the real suite's base image (from a
// root filesystem cached like the local cluster's base image, so its digest
// stays the same from run to run), the project and its test image, and
// discovers the test ids as the CLI does.
func (s *Session) RealSuite(ctx context.Context, selection []string) (*RealSuite, error) {
	if s.realSuite != nil {
		return s.realSuite, nil
	}
	codename, err := rootfs.OSCodename()
	if err != nil {
		return nil, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("finding the cache dir: %w", err)
	}
	tarPath, err := rootfs.Build(ctx, filepath.Join(cache, "k8s-testrun"), RealSuiteRecipe(codename), s.Log.With("component", "rootfs"))
	if err != nil {
		return nil, fmt.Errorf("real suite's root filesystem: %w", err)
	}
	img, err := rootfs.PythonImage(tarPath)
	if err != nil {
		return nil, err
	}
	ref := fmt.Sprintf("%s/ktr-bench/python-pyflakes:3-%s", s.Registry, codename)
	digest, err := rootfs.Push(ctx, ref, img)
	if err != nil {
		return nil, err
	}
	rs := &RealSuite{Base: ref + "@" + digest.String(), Dir: filepath.Join(s.Dir, "realsuite"), Selection: selection}
	n, err := RealSuiteProject(tarPath, rs.Dir)
	if err != nil {
		return nil, err
	}
	s.Log.Info("real suite", "package", RealSuitePackage, "files", n, "base", rs.Base)
	res, err := s.buildOn(ctx, rs.Dir, "realsuite", rs.Base)
	if err != nil {
		return nil, err
	}
	rs.Image = res.Image
	if rs.IDs, err = s.discover(ctx, rs.Image, selection); err != nil {
		return nil, err
	}
	s.Log.Info("real suite discovered", "tests", len(rs.IDs))
	s.realSuite = rs
	return rs, nil
}

// extractTests copies the regular files directly under dir in the gzipped
// tar at tarPath to dest, and returns how many it copied.
func extractTests(tarPath, dir, dest string) (int, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", tarPath, err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return 0, err
	}
	tr := tar.NewReader(zr)
	n := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("reading %s: %w", tarPath, err)
		}
		name := strings.TrimPrefix(path.Clean(hdr.Name), "./")
		rel, ok := strings.CutPrefix(name, dir)
		if !ok || hdr.Typeflag != tar.TypeReg || rel == "" || strings.Contains(rel, "/") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return n, err
		}
		if err := os.WriteFile(filepath.Join(dest, rel), b, 0o644); err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("%s has no files under /%s", tarPath, dir)
	}
	return n, nil
}

func (s *Session) buildOn(ctx context.Context, dir, repo, base string) (build.Result, error) {
	res, err := build.Build(ctx, build.Options{
		ProjectDir: dir,
		Repository: s.Registry + "/ktr-bench/" + repo,
		BaseImage:  base,
		Binary:     s.PodBinary,
		Platform:   platform(),
		Logger:     s.Log.With("component", "build"),
	})
	if err != nil {
		return res, fmt.Errorf("building %s: %w", dir, err)
	}
	return res, nil
}

// discover lists the test ids in image the way the CLI does: one pod
// running pytest's collection, its output read by the same parser.
func (s *Session) discover(ctx context.Context, image string, selection []string) ([]string, error) {
	runID := newRunID()
	argv := append([]string{"python", "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"}, selection...)
	pod, err := k8s.OneOffPod(k8s.OneOffOptions{
		Namespace: s.Namespace, RunID: runID, Role: "discover",
		Image: image, Command: argv, Timeout: caseTimeout,
	})
	if err != nil {
		return nil, err
	}
	out, log, err := k8s.RunOnce(ctx, s.Cluster.Client, pod, k8s.ObserveOptions{PendingTimeout: 2 * time.Minute})
	if err != nil {
		return nil, fmt.Errorf("discovering tests: %w", err)
	}
	if out.Reason != "" && out.ExitCode < 0 {
		return nil, fmt.Errorf("discovering tests: %s: %s", out.Reason, out.Message)
	}
	ids, err := discover.Parse(string(log), int(out.ExitCode))
	if err != nil {
		return nil, fmt.Errorf("discovering tests: %w\n%s", err, log)
	}
	return ids, nil
}
