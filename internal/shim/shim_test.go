package shim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// syncBuffer is a stream the test can read while Run writes it, and that
// reports when a string first appears in it.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	seen  chan struct{}
	fired bool
}

func newSyncBuffer(want string) *syncBuffer {
	return &syncBuffer{want: want, seen: make(chan struct{})}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if !b.fired && b.want != "" && strings.Contains(b.buf.String(), b.want) {
		b.fired = true
		close(b.seen)
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return string(b)
}

// assertFinished checks what the sidecar relies on: the exit code, the done
// marker, and no temporary files left behind.
func assertFinished(t *testing.T, dir string, code int) {
	t.Helper()
	assert.Equal(t, strings.TrimSpace(readFile(t, dir, "exitcode")), strconv.Itoa(code))
	assert.FileExists(t, filepath.Join(dir, "done"))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.Name() != "cases" {
			names = append(names, e.Name())
		}
	}
	assert.ElementsMatch(t, []string{"artifacts", "done", "exitcode", "output.txt", "times"}, names)
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		argv     []string
		wantCode int
		wantErr  string
	}{
		{"success", []string{"sh", "-c", "exit 0"}, 0, ""},
		{"pytest's failure code", []string{"sh", "-c", "exit 1"}, 1, ""},
		{"other code", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"killed by a signal", []string{"sh", "-c", "kill -KILL $$"}, 137, ""},
		{"terminated by a signal", []string{"sh", "-c", "kill -TERM $$"}, 143, ""},
		{"command not found", []string{"no-such-command-k8s-testrun"}, ExitStartFailed, "starting no-such-command-k8s-testrun"},
		{"no command", nil, ExitStartFailed, "no command to run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			code, err := Run(context.Background(), tt.argv, dir, &stdout, &stderr, Options{Env: os.Environ()})
			assert.Equal(t, tt.wantCode, code)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, readFile(t, dir, "output.txt"), "k8s-testrun shim: "+tt.wantErr,
					"the reason lands in the test's output")
			}
			assertFinished(t, dir, tt.wantCode)
		})
	}
}

func TestRunCopiesOutput(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code, err := Run(context.Background(),
		[]string{"sh", "-c", "echo to-stdout; echo to-stderr >&2; printf 'no newline'"},
		dir, &stdout, &stderr, Options{Env: os.Environ()})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "to-stdout\nno newline", stdout.String())
	assert.Equal(t, "to-stderr\n", stderr.String())

	output := readFile(t, dir, "output.txt")
	assert.Contains(t, output, "to-stdout\n")
	assert.Contains(t, output, "to-stderr\n")
	assert.Contains(t, output, "no newline")
	assert.Len(t, output, len(stdout.String())+len(stderr.String()))
}

func TestRunEnvironmentAndArtifacts(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	script := `echo "artifacts=$K8S_TESTRUN_ARTIFACTS"; echo "greeting=$GREETING"; echo saved > "$K8S_TESTRUN_ARTIFACTS/note.txt"`
	code, err := Run(context.Background(), []string{"/bin/sh", "-c", script}, dir, &stdout, &bytes.Buffer{},
		Options{Env: []string{"GREETING=hello"}})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout.String(), "artifacts="+filepath.Join(dir, "artifacts")+"\n")
	assert.Contains(t, stdout.String(), "greeting=hello\n")
	assert.Equal(t, "saved\n", readFile(t, dir, "artifacts/note.txt"))
}

func TestRunTruncatesOldOutput(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "output.txt"), []byte("stale output from before"), 0o644))
	_, err := Run(context.Background(), []string{"sh", "-c", "echo fresh"}, dir, &bytes.Buffer{}, &bytes.Buffer{}, Options{Env: os.Environ()})
	require.NoError(t, err)
	assert.Equal(t, "fresh\n", readFile(t, dir, "output.txt"))
}

func TestRunForwardsSignals(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		signal   syscall.Signal
		wantCode int
		wantOut  string
	}{
		{
			name:     "child traps TERM and exits on its own terms",
			script:   `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`,
			signal:   syscall.SIGTERM,
			wantCode: 7,
			wantOut:  "got TERM",
		},
		{
			name:     "TERM ends a child without a handler",
			script:   `echo ready; exec sleep 30`,
			signal:   syscall.SIGTERM,
			wantCode: 143,
		},
		{
			name:     "INT ends a child without a handler",
			script:   `echo ready; exec sleep 30`,
			signal:   syscall.SIGINT,
			wantCode: 130,
		},
		{
			name:     "the whole process group is signalled",
			script:   `sleep 30 & echo ready; wait`,
			signal:   syscall.SIGTERM,
			wantCode: 143,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stdout := newSyncBuffer("ready")
			signals := make(chan os.Signal, 1)
			type result struct {
				code int
				err  error
			}
			done := make(chan result, 1)
			start := time.Now()
			go func() {
				code, err := Run(context.Background(), []string{"sh", "-c", tt.script}, dir, stdout, &bytes.Buffer{},
					Options{Env: os.Environ(), Signals: signals, WaitDelay: time.Second})
				done <- result{code, err}
			}()
			select {
			case <-stdout.seen:
			case <-time.After(10 * time.Second):
				t.Fatal("child never became ready")
			}
			signals <- tt.signal

			select {
			case r := <-done:
				require.NoError(t, r.err)
				assert.Equal(t, tt.wantCode, r.code)
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after the signal")
			}
			assert.Less(t, time.Since(start), 5*time.Second, "no wait for the 30 s sleep")
			assert.Contains(t, stdout.String(), tt.wantOut)
			assertFinished(t, dir, tt.wantCode)
		})
	}
}

func TestRunCancelKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	stdout := newSyncBuffer("ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		code, _ := Run(ctx, []string{"sh", "-c", `trap '' TERM; sleep 30 & echo ready; wait`}, dir, stdout, &bytes.Buffer{},
			Options{Env: os.Environ(), WaitDelay: time.Second})
		done <- code
	}()
	<-stdout.seen
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 137, code)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assertFinished(t, dir, 137)
}

// TestRunDoneComesLast watches the results directory as the sidecar does:
// whenever the marker exists, the exit code is already complete.
func TestRunDoneComesLast(t *testing.T) {
	for i := range 20 {
		dir := t.TempDir()
		stop := make(chan struct{})
		violations := make(chan string, 1)
		var watching sync.WaitGroup
		watching.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
					b, err := os.ReadFile(filepath.Join(dir, "exitcode"))
					if err != nil || string(b) != strconv.Itoa(i%4)+"\n" {
						violations <- "done without a complete exitcode: " + string(b)
					}
					return
				}
			}
		})
		code, err := Run(context.Background(), []string{"sh", "-c", "exit " + strconv.Itoa(i%4)}, dir, &bytes.Buffer{}, &bytes.Buffer{}, Options{Env: os.Environ()})
		require.NoError(t, err)
		assert.Equal(t, i%4, code)
		// The watcher returns once it has seen the marker Run left.
		seen := make(chan struct{})
		go func() { watching.Wait(); close(seen) }()
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			close(stop)
			t.Fatal("no done marker after Run returned")
		}
		select {
		case v := <-violations:
			t.Fatal(v)
		default:
		}
	}
}

func TestRunUnusableResultsDir(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o644))
	code, err := Run(context.Background(), []string{"sh", "-c", "exit 0"}, notADir, &bytes.Buffer{}, &bytes.Buffer{}, Options{})
	assert.Equal(t, ExitStartFailed, code)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "creating artifacts directory")
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("log stream closed") }

func TestRunSurvivesABrokenLogStream(t *testing.T) {
	dir := t.TempDir()
	code, err := Run(context.Background(), []string{"sh", "-c", "for i in 1 2 3; do echo line $i; done; exit 4"}, dir,
		brokenWriter{}, brokenWriter{}, Options{Env: os.Environ()})
	assert.Equal(t, 4, code, "the child ran to its end")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "log stream closed")
	assert.Equal(t, "line 1\nline 2\nline 3\n", readFile(t, dir, "output.txt"))
	assertFinished(t, dir, 4)
}

func TestStreamMakesThePluginImportable(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	script := `first=${PYTHONPATH%%:*}; echo "path=$PYTHONPATH"; echo "dir=$K8S_TESTRUN_STREAM_DIR"; head -1 "$first/k8s_testrun_stream.py"`
	code, err := Run(context.Background(), []string{"sh", "-c", script}, dir, &out, &out, Options{
		Env: []string{"PYTHONPATH=/opt/deps", "K8S_TESTRUN_STREAM_DIR=/elsewhere"}, Stream: true,
	})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	assert.Regexp(t, `path=/[^:]+/k8s-testrun-plugin-[^:]+:/opt/deps\n`, out.String(), "the plugin's directory comes first, the image's path stays")
	assert.Contains(t, out.String(), "dir="+filepath.Join(dir, "cases")+"\n")
	assert.Contains(t, out.String(), `"""k8s-testrun: stream each test's JUnit entry`)
	assert.DirExists(t, filepath.Join(dir, "cases"))
	assertFinished(t, dir, 0)
}

func TestTestTimeoutStopsTheRunningTest(t *testing.T) {
	dir := t.TempDir()
	// Stands in for pytest with the streaming plugin: names a running test,
	// then hangs in it.
	script := `printf '{"nodeid": "t.py::slow", "start": %s}' "$(date +%s.%N)" > "$K8S_TESTRUN_STREAM_DIR/current"; sleep 30`
	start := time.Now()
	code, err := Run(context.Background(), []string{"sh", "-c", script}, dir, &bytes.Buffer{}, &bytes.Buffer{}, Options{
		Stream: true, TestTimeout: 300 * time.Millisecond, Env: []string{"PATH=" + os.Getenv("PATH")},
	})
	require.NoError(t, err)
	assert.Equal(t, 128+int(syscall.SIGKILL), code)
	assert.Less(t, time.Since(start), 10*time.Second, "the hung test was stopped, not waited for")
	assert.Contains(t, readFile(t, dir, "cases/timedout"), `"nodeid": "t.py::slow"`)
	assertFinished(t, dir, code)
}

func TestTestTimeoutLeavesFinishedTestsAlone(t *testing.T) {
	dir := t.TempDir()
	// Between tests the plugin empties current: the gap never counts.
	script := `: > "$K8S_TESTRUN_STREAM_DIR/current"; sleep 1`
	code, err := Run(context.Background(), []string{"sh", "-c", script}, dir, &bytes.Buffer{}, &bytes.Buffer{}, Options{
		Stream: true, TestTimeout: 200 * time.Millisecond, Env: []string{"PATH=" + os.Getenv("PATH")},
	})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.NoFileExists(t, filepath.Join(dir, "cases", "timedout"))
}

func TestEveryRunMakesTheMarkersPluginImportable(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	script := `first=${PYTHONPATH%%:*}; echo "path=$PYTHONPATH"; echo "dir=${K8S_TESTRUN_STREAM_DIR-unset}"; echo "clock=${K8S_TESTRUN_CLOCK-unset}"; grep -c '"faketime(spec): run this test' "$first/k8s_testrun_markers.py"`
	code, err := Run(context.Background(), []string{"sh", "-c", script}, dir, &out, &out, Options{
		Env: []string{"PYTHONPATH=/opt/deps", "K8S_TESTRUN_CLOCK=1 2", "PATH=" + os.Getenv("PATH")},
	})
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	assert.Regexp(t, `path=/[^:]+/k8s-testrun-plugin-[^:]+:/opt/deps\n`, out.String())
	assert.Contains(t, out.String(), "dir=unset\n", "streaming only with Stream")
	assert.Contains(t, out.String(), "clock=unset\n", "no stale anchor reaches the child")
	assert.Contains(t, out.String(), "\n1\n", "the plugin registers the faketime marker")
	assert.NoDirExists(t, filepath.Join(dir, "cases"))
}

func TestStreamGivesTheRealClockAnchor(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	before := time.Now()
	code, err := Run(context.Background(), []string{"sh", "-c", `echo "$K8S_TESTRUN_CLOCK"`}, dir, &out, &out, Options{Stream: true})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	var real, mono float64
	_, err = fmt.Sscanf(out.String(), "%f %f\n", &real, &mono)
	require.NoError(t, err, out.String())
	assert.InDelta(t, float64(before.UnixNano())/1e9, real, 5, "the real time")
	var now unix.Timespec
	require.NoError(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &now))
	assert.InDelta(t, float64(now.Nano())/1e9, mono, 5, "the monotonic clock")
	assert.LessOrEqual(t, mono, float64(now.Nano())/1e9)
}

func TestPluginsGoToTheResultsWithoutATemporaryDirectory(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	dir := t.TempDir()
	var out bytes.Buffer
	code, err := Run(context.Background(), []string{"sh", "-c", `first=${PYTHONPATH%%:*}; echo "$first"; test -f "$first/k8s_testrun_markers.py"`}, dir, &out, &out, Options{})
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	assert.True(t, strings.HasPrefix(out.String(), filepath.Join(dir, ".k8s-testrun-plugin-")), out.String())
	matches, _ := filepath.Glob(filepath.Join(dir, ".k8s-testrun-plugin-*"))
	assert.Empty(t, matches, "removed when the child is done")
}
