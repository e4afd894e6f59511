// Package layout holds the paths that the image builder and the pod builder
// must agree on: where the test image keeps the sources, the dependencies and
// the k8s-testrun binary, and where a test pod's containers share results.
package layout

const (
	// BinaryPath is where the build puts the pod binary, k8s-testrun-pod,
	// so the shim and the collector sidecar run from the test image itself.
	// The path keeps the name it had when the image carried the whole CLI,
	// so pod specs written by any version run on any image; the operator's
	// image carries the CLI at the same path.
	BinaryPath = "/opt/k8s-testrun/bin/k8s-testrun"

	// PodBinaryName is the pod binary's file name where it is built, beside
	// k8s-testrun.
	PodBinaryName = "k8s-testrun-pod"

	// WorkDir holds the project's sources and is the image's working directory.
	WorkDir = "/workspace"

	// DepsDir holds the pip-installed dependencies; the image's PYTHONPATH
	// names it.
	DepsDir = "/opt/k8s-testrun/deps"

	// CoverageDir holds, in the image of a run's coverage pod, the
	// coverage.py data files the test pods shipped (under "data") and the
	// configuration k8s-testrun wrote for combining them ("coveragerc").
	CoverageDir = "/opt/k8s-testrun/coverage"

	// ResultsDir is the emptyDir mount shared by the test container and the
	// collector in every test pod.
	ResultsDir = "/results"

	// ArtifactsDir is where a test may write files to be shipped with its
	// results; the shim exports it as K8S_TESTRUN_ARTIFACTS.
	ArtifactsDir = ResultsDir + "/artifacts"

	// JUnitFile, OutputFile, ExitCodeFile and DoneFile are the names, inside
	// ResultsDir, of pytest's per-test JUnit report, the captured output of
	// the test process, its exit code, and the marker the shim writes last.
	JUnitFile    = "junit.xml"
	OutputFile   = "output.txt"
	ExitCodeFile = "exitcode"
	DoneFile     = "done"

	// CasesDir, inside ResultsDir, receives one file per finished test from
	// the streaming pytest plugin of a pod that runs several tests, and
	// CurrentFile the test running now; TimedOutFile names the test the
	// shim stopped at its timeout. TimesFile holds when the test process
	// started and exited, in nanoseconds.
	CasesDir     = "cases"
	CurrentFile  = "current"
	TimedOutFile = "timedout"
	TimesFile    = "times"

	// StreamPlugin is the module name of the streaming plugin the shim
	// makes importable; StreamDirEnv points it at CasesDir.
	StreamPlugin = "k8s_testrun_stream"
	StreamDirEnv = "K8S_TESTRUN_STREAM_DIR"
	// MarkersPlugin is the module name of the plugin, importable in every
	// test container, that registers the faketime marker and lists each
	// test's in discovery.
	MarkersPlugin = "k8s_testrun_markers"
	// ClockEnv gives the streaming plugin the real time and the monotonic
	// clock at one moment, "unix-seconds monotonic-seconds", so it can tell
	// the real time in a process whose wall clock libfaketime fakes.
	ClockEnv = "K8S_TESTRUN_CLOCK"

	// ArtifactsEnv names the environment variable that points a test at
	// ArtifactsDir.
	ArtifactsEnv = "K8S_TESTRUN_ARTIFACTS"
)

// Without native sidecars the shim waits for the pod's services before the
// test: the test container's arguments name each one's check, and a service
// still not ready after the wait ends the shim with ExitServiceNotReady and
// a last line that starts with ServiceNotReadyPrefix.
const (
	ExitServiceNotReady   = 124
	ServiceNotReadyPrefix = "ServiceNotReady: "
)
