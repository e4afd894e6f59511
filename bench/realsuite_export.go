package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"k8s.io/client-go/kubernetes"

	"github.com/k8s-testrun/k8s-testrun/hack/cluster/rootfs"
	"github.com/k8s-testrun/k8s-testrun/internal/junit"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
)

// What of the real suite other harnesses (test/action's kind tests) reuse:
// the same base image recipe, the same project and the same plain pytest
// reference, so the suite is built and judged one way everywhere.

// RealSuiteRecipe is the real suite's root filesystem: Debian minbase,
// Python, pytest and RealSuitePackage.
func RealSuiteRecipe(codename string) rootfs.Recipe {
	return rootfs.Recipe{
		Name:     "python-pyflakes",
		Codename: codename,
		Packages: append(append([]string(nil), rootfs.PythonPackages...), RealSuitePackage),
	}
}

// RealSuiteProject makes the real suite's project in dir from the root
// filesystem tar of RealSuiteRecipe: the package's tests under tests/. It
// returns how many files it copied.
func RealSuiteProject(tarPath, dir string) (int, error) {
	return extractTests(tarPath, realSuiteTests, filepath.Join(dir, realSuiteDir))
}

// PlainPytest runs plain pytest on the whole selection in one pod of image
// in namespace, as F1's reference run does, and returns pytest's own JUnit
// file. The pod is deleted before it returns.
func PlainPytest(ctx context.Context, client kubernetes.Interface, namespace, image string, selection []string) (junit.Testsuites, error) {
	s := &Session{
		Cluster:   &k8s.Cluster{Client: client, Namespace: namespace},
		Namespace: namespace,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	run, err := s.plainPytest(ctx, &RealSuite{Image: image, Selection: selection})
	if err != nil {
		return junit.Testsuites{}, err
	}
	return run.suites, nil
}

// CompareWithPlain finds each of ids in got and in plain pytest's JUnit
// file, checks that plain pytest ran exactly those tests, and lists the
// tests whose verdicts differ, with both sides' messages. counts sums
// plain pytest's verdicts.
func CompareWithPlain(plain, got junit.Testsuites, ids []string) (diffs []string, counts string, err error) {
	ref, _, err := plainVerdicts(plain, ids)
	if err != nil {
		return nil, "", err
	}
	found, missing := findTests(got, ids)
	if len(missing) > 0 {
		return nil, "", fmt.Errorf("%d tests are not in the report, e.g. %s", len(missing), missing[0])
	}
	return diffVerdicts(ids, ref, found), verdictCounts(ref), nil
}
