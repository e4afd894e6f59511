package app

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	restclient "k8s.io/client-go/rest"
	fakerest "k8s.io/client-go/rest/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/config"
	"github.com/k8s-testrun/k8s-testrun/internal/coverage"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/layout"
	"github.com/k8s-testrun/k8s-testrun/internal/report"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// podLogs is a clientset whose pods' logs are what log returns, and which
// records the options each log read was made with.
type podLogs struct {
	kubernetes.Interface
	log  func(pod string) []byte
	mu   sync.Mutex
	opts []corev1.PodLogOptions
}

func (p *podLogs) IsWatchListSemanticsUnSupported() bool { return true }

func (p *podLogs) CoreV1() corev1client.CoreV1Interface {
	return logCore{p.Interface.CoreV1(), p}
}

type logCore struct {
	corev1client.CoreV1Interface
	p *podLogs
}

func (c logCore) Pods(namespace string) corev1client.PodInterface {
	return logPods{c.CoreV1Interface.Pods(namespace), c.p, namespace}
}

type logPods struct {
	corev1client.PodInterface
	p         *podLogs
	namespace string
}

func (l logPods) GetLogs(pod string, opts *corev1.PodLogOptions) *restclient.Request {
	l.p.mu.Lock()
	l.p.opts = append(l.p.opts, *opts)
	l.p.mu.Unlock()
	body := l.p.log(pod)
	c := &fakerest.RESTClient{
		Client: fakerest.CreateHTTPClient(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(body))}, nil
		}),
		NegotiatedSerializer: scheme.Codecs.WithoutConversion(),
		GroupVersion:         corev1.SchemeGroupVersion,
		VersionedAPIPath:     "/api/v1/namespaces/" + l.namespace + "/pods/" + pod + "/log",
	}
	return c.Request()
}

// coverageCluster is a fake cluster whose pods end at once with exitCode
// and print log; created records them.
func coverageCluster(t *testing.T, exitCode int32, logText []byte) (*podLogs, *fake.Clientset, *[]*corev1.Pod) {
	t.Helper()
	client := fake.NewClientset()
	var mu sync.Mutex
	var created []*corev1.Pod
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		mu.Lock()
		created = append(created, pod.DeepCopy())
		mu.Unlock()
		pod.Status = corev1.PodStatus{
			Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{{
				Name:  k8s.TestContainer,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode}},
			}},
		}
		if exitCode != 0 {
			pod.Status.Phase = corev1.PodFailed
		}
		return false, nil, nil
	})
	return &podLogs{Interface: client, log: func(string) []byte { return logText }}, client, &created
}

// testImage pushes a random image to an in-memory registry and returns
// its repository and digest.
func testImage(t *testing.T) (string, v1.Hash, v1.Image) {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	repo := u.Host + "/proj"
	img, err := random.Image(256, 2)
	require.NoError(t, err)
	ref, err := name.ParseReference(repo + ":base")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	d, err := img.Digest()
	require.NoError(t, err)
	return repo, d, img
}

const podReport = `<?xml version="1.0" ?>
<coverage version="7.6.1">
	<sources>
		<source>/workspace</source>
	</sources>
	<packages><package name="."><classes>
		<class name="calc.py" filename="calc.py"><lines><line number="1" hits="1"/><line number="2" hits="0"/></lines></class>
	</classes></package></packages>
</coverage>`

func reportBlock(t *testing.T, files ...transport.File) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, transport.Encode(&b, files, coverage.BlockLimit))
	return b.Bytes()
}

// coveragePipeline is a pipeline after a run's tests: a test image pushed
// to repo, a project with a .coveragerc, and two pods' data files kept.
func coveragePipeline(t *testing.T, client kubernetes.Interface, repo string, digest v1.Hash) (*pipeline, string) {
	t.Helper()
	project := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(project, coverage.ProjectRcfile),
		[]byte("[run]\nplugins = evil\n[report]\nprecision = 2\n[paths]\nsource =\n    /x\n"), 0o644))
	data := t.TempDir()
	for _, n := range []string{".coverage.ktr-r1-a-1.host.1.x", ".coverage.ktr-r1-b-1.host.2.y"} {
		require.NoError(t, os.WriteFile(filepath.Join(data, n), []byte("SQLite format 3\x00"+n), 0o644))
	}
	out := t.TempDir()
	return &pipeline{
		cfg: config.Config{
			ProjectDir: project, JUnitPath: filepath.Join(out, "junit.xml"), Repository: repo,
			PendingTimeout: 0,
		},
		log:     slog.New(slog.DiscardHandler),
		cluster: &k8s.Cluster{Client: client, Namespace: "ns"},
		runID:   "r1",
		image:   build.Result{Image: repo + "@" + digest.String(), Digest: digest},
	}, data
}

// TestCombineCoverageInAPod: the data files and our rcfile go as one layer
// on top of the test image; one pod of it, labelled with the run, runs the
// coverage role and is deleted; its log is read bounded, and the report it
// printed becomes coverage.xml and the run's coverage.
func TestCombineCoverageInAPod(t *testing.T) {
	repo, digest, base := testImage(t)
	logs, client, created := coverageCluster(t, 0, append([]byte("a line of its own\n"), reportBlock(t, transport.File{Name: coverage.ReportFile, Data: []byte(podReport)})...))
	p, data := coveragePipeline(t, logs, repo, digest)

	rep := &report.Report{}
	require.NoError(t, p.combineCoverage(context.Background(), data, rep))

	require.Len(t, *created, 1)
	pod := (*created)[0]
	assert.Equal(t, "r1", pod.Labels[k8s.LabelRun])
	assert.Equal(t, coverageRole, pod.Labels[k8s.LabelRole])
	assert.Equal(t, "ktr-r1-coverage", pod.Name)
	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	assert.Equal(t, []string{layout.BinaryPath, coverage.Role, "--rcfile", coverage.RcfilePath}, c.Command)
	assert.Equal(t, layout.WorkDir, c.WorkingDir)
	assert.Equal(t, corev1.RestartPolicyNever, pod.Spec.RestartPolicy)
	pods, err := client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, pods.Items, "the coverage pod is deleted")

	// The pod's image is the test image and one layer more.
	require.True(t, strings.HasPrefix(c.Image, repo+"@sha256:"), c.Image)
	ref, err := name.ParseReference(c.Image)
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	below, err := base.Layers()
	require.NoError(t, err)
	require.Len(t, layers, len(below)+1)
	files := layerFiles(t, layers[len(layers)-1])
	assert.Equal(t, []string{
		coverage.RcfilePath,
		coverage.DataDir + "/.coverage.ktr-r1-a-1.host.1.x",
		coverage.DataDir + "/.coverage.ktr-r1-b-1.host.2.y",
	}, keys(files))
	assert.Equal(t, "SQLite format 3\x00.coverage.ktr-r1-a-1.host.1.x", files[coverage.DataDir+"/.coverage.ktr-r1-a-1.host.1.x"])
	assert.Equal(t, coverage.Rcfile(layout.WorkDir, []byte("[run]\nplugins = evil\n[report]\nprecision = 2\n[paths]\nsource =\n    /x\n")), files[coverage.RcfilePath])
	assert.NotContains(t, files[coverage.RcfilePath], "evil", "the project's plugins are not loaded")

	require.Len(t, logs.opts, 1)
	require.NotNil(t, logs.opts[0].LimitBytes, "the log is read bounded")
	// One byte past the limit tells a log that is longer from one that fits.
	assert.Equal(t, int64(maxCoverageLog)+1, *logs.opts[0].LimitBytes)

	// coverage.xml is the pod's report, its source the project here.
	require.NotNil(t, rep.Coverage)
	xmlPath := filepath.Join(filepath.Dir(p.cfg.JUnitPath), coverage.ReportFile)
	assert.Equal(t, xmlPath, rep.Coverage.Report)
	written, err := os.ReadFile(xmlPath)
	require.NoError(t, err)
	projectDir, _ := filepath.Abs(p.cfg.ProjectDir)
	assert.Equal(t, strings.Replace(podReport, "<source>/workspace</source>", "<source>"+projectDir+"</source>", 1), string(written))
	assert.Equal(t, 2, rep.Coverage.Lines)
	assert.Equal(t, 1, rep.Coverage.Covered)
	require.Len(t, rep.Coverage.Files, 1)
	assert.Equal(t, "calc.py", rep.Coverage.Files[0].Name)
}

// TestCombineCoverageFailures: a coverage pod that fails, prints no block
// or a report too large leaves no report and no pod, and says why in one
// line that quotes the pod only defused.
func TestCombineCoverageFailures(t *testing.T) {
	tests := []struct {
		name string
		exit int32
		log  []byte
		want string
	}{
		{"exit code", 1, []byte("Traceback\n::warning::No data to combine\n"), "combining coverage in pod ktr-r1-coverage: exit code 1: \\::warning::No data to combine"},
		{"no block", 0, []byte("nothing\n"), "reading the coverage pod's report: no result block in log"},
		{"report too large", 0, nil, "larger than the coverage pod may ship"},
		{"not a report", 0, nil, "reading the Cobertura report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := tt.log
			switch tt.name {
			case "report too large":
				log = reportBlock(t, transport.File{Name: transport.TruncatedFile, Data: []byte("dropped coverage.xml")})
			case "not a report":
				log = reportBlock(t, transport.File{Name: coverage.ReportFile, Data: []byte("<html>")})
			}
			repo, digest, _ := testImage(t)
			logs, client, created := coverageCluster(t, tt.exit, log)
			p, data := coveragePipeline(t, logs, repo, digest)
			rep := &report.Report{}
			err := p.combineCoverage(context.Background(), data, rep)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n")
			assert.Nil(t, rep.Coverage)
			assert.Len(t, *created, 1)
			pods, lerr := client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
			require.NoError(t, lerr)
			assert.Empty(t, pods.Items, "no pod left behind")
			assert.NoFileExists(t, filepath.Join(filepath.Dir(p.cfg.JUnitPath), coverage.ReportFile))
		})
	}
	t.Run("no data", func(t *testing.T) {
		repo, digest, _ := testImage(t)
		logs, _, created := coverageCluster(t, 0, nil)
		p, _ := coveragePipeline(t, logs, repo, digest)
		err := p.combineCoverage(context.Background(), t.TempDir(), &report.Report{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no pod shipped a coverage data file")
		assert.Empty(t, *created)
	})
}

func layerFiles(t *testing.T, l v1.Layer) map[string]string {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files["/"+h.Name] = string(b)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
