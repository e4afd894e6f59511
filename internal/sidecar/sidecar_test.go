package sidecar

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/transport"
	testingclock "k8s.io/utils/clock/testing"
)

// waitClock is a fake clock that says when Run starts a wait: every wait is
// announced on waiting once it is registered, so Run has read what it polls
// (the marker, the linger file) at the clock's current time, and the test
// steps the clock only then. Run blocks until the test takes the
// announcement, so the two move in lock step and nothing depends on how fast
// the machine is.
type waitClock struct {
	*testingclock.FakeClock
	waiting chan struct{}
}

func newWaitClock() *waitClock {
	return &waitClock{FakeClock: testingclock.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)), waiting: make(chan struct{})}
}

func (c *waitClock) After(d time.Duration) <-chan time.Time {
	ch := c.FakeClock.After(d)
	c.waiting <- struct{}{}
	return ch
}

// awaitWait returns once Run waits on c, failing the test if Run returns
// first or takes more than a minute of real time to get there.
func awaitWait(t *testing.T, c *waitClock, returned <-chan error) {
	t.Helper()
	select {
	case <-c.waiting:
	case err := <-returned:
		t.Fatalf("Run returned (%v) instead of waiting", err)
	case <-time.After(time.Minute):
		t.Fatal("Run never waited")
	}
}

// logBuffer stands for the sidecar's log: safe to read while Run writes,
// and it says when the first write arrived.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
	once    sync.Once
}

func newLogBuffer() *logBuffer { return &logBuffer{written: make(chan struct{})} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.once.Do(func() { close(b.written) })
	return b.buf.Write(p)
}

func (b *logBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func writeFile(t *testing.T, dir, name string, data []byte, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, data, mode))
	require.NoError(t, os.Chmod(p, mode))
}

// testResults fills dir as the shim and pytest leave it, without the marker.
func testResults(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, dir, "junit.xml", []byte(`<testsuites><testsuite name="pytest" tests="1"/></testsuites>`), 0o644)
	writeFile(t, dir, "output.txt", []byte("tests/test_a.py F\n"), 0o644)
	writeFile(t, dir, "artifacts/screenshot.png", []byte("\x89PNG..."), 0o644)
	writeFile(t, dir, "artifacts/logs/server.log", []byte("started\n"), 0o600)
	writeFile(t, dir, "artifacts/run.sh", []byte("#!/bin/sh\n"), 0o755)
}

func finish(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, dir, "exitcode", []byte("1\n"), 0o644)
	writeFile(t, dir, "done", nil, 0o644)
}

func decodeLog(t *testing.T, log []byte) map[string]transport.File {
	t.Helper()
	assert.Equal(t, 1, bytes.Count(log, []byte(transport.Magic+" BEGIN")), "exactly one block")
	files, err := transport.Decode(bytes.NewReader(log))
	require.NoError(t, err)
	m := map[string]transport.File{}
	for _, f := range files {
		m[f.Name] = f
	}
	return m
}

func fileNames(m map[string]transport.File) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	return names
}

func TestRunShipsWhenTheMarkerAppears(t *testing.T) {
	dir := t.TempDir()
	testResults(t, dir)
	out := newLogBuffer()
	returned := make(chan error, 1)
	clk := newWaitClock()
	go func() {
		returned <- Run(context.Background(), dir, out, Options{PollInterval: 5 * time.Millisecond, Clock: clk})
	}()

	awaitWait(t, clk, returned) // Run has looked for the marker and found none
	select {
	case <-out.written:
		t.Fatal("shipped before the marker")
	default:
	}
	finish(t, dir)
	clk.Step(5 * time.Millisecond)

	select {
	case err := <-returned:
		require.NoError(t, err, "without Hold, Run returns once shipped")
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the marker")
	}
	got := decodeLog(t, out.Bytes())
	assert.ElementsMatch(t, []string{
		"junit.xml", "output.txt", "exitcode",
		"artifacts/screenshot.png", "artifacts/logs/server.log", "artifacts/run.sh",
	}, fileNames(got), "the marker itself is not shipped")
	assert.Equal(t, "1\n", string(got["exitcode"].Data))
	assert.Equal(t, "tests/test_a.py F\n", string(got["output.txt"].Data))
	assert.Equal(t, "started\n", string(got["artifacts/logs/server.log"].Data))
	assert.Equal(t, os.FileMode(0o755), got["artifacts/run.sh"].Mode)
	assert.Equal(t, os.FileMode(0o600), got["artifacts/logs/server.log"].Mode)
}

func TestRunShipsOnCancelWithoutTheMarker(t *testing.T) {
	tests := []struct {
		name      string
		fill      func(t *testing.T, dir string)
		wantFiles []string
	}{
		{
			name:      "test killed mid-run",
			fill:      testResults,
			wantFiles: []string{"junit.xml", "output.txt", "artifacts/screenshot.png", "artifacts/logs/server.log", "artifacts/run.sh"},
		},
		{
			name: "output only",
			fill: func(t *testing.T, dir string) {
				writeFile(t, dir, "output.txt", []byte("collecting ..."), 0o644)
			},
			wantFiles: []string{"output.txt"},
		},
		{
			name:      "nothing written",
			fill:      func(*testing.T, string) {},
			wantFiles: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.fill(t, dir)
			ctx, cancel := context.WithCancel(context.Background())
			out := newLogBuffer()
			returned := make(chan error, 1)
			clk := newWaitClock()
			go func() { returned <- Run(ctx, dir, out, Options{PollInterval: 5 * time.Millisecond, Clock: clk}) }()
			awaitWait(t, clk, returned) // waiting for the marker
			cancel()
			select {
			case err := <-returned:
				require.NoError(t, err, "cancellation is the normal end")
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			got := decodeLog(t, out.Bytes())
			assert.ElementsMatch(t, tt.wantFiles, fileNames(got))
			assert.NotContains(t, got, "exitcode", "no exit code: the test did not finish")
		})
	}
}

func TestRunHold(t *testing.T) {
	dir := t.TempDir()
	testResults(t, dir)
	finish(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newLogBuffer()
	returned := make(chan error, 1)
	go func() { returned <- Run(ctx, dir, out, Options{Hold: true, PollInterval: 5 * time.Millisecond}) }()

	select {
	case <-out.written:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing shipped")
	}
	decodeLog(t, out.Bytes())
	select {
	case err := <-returned:
		t.Fatalf("returned while holding: %v", err)
	case <-time.After(100 * time.Millisecond):
	}

	cancel()
	select {
	case err := <-returned:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	decodeLog(t, out.Bytes()) // still exactly one block
}

func TestRunLimits(t *testing.T) {
	const limit = 2 << 10 // reads at most 32 KiB of any file
	dir := t.TempDir()
	writeFile(t, dir, "junit.xml", []byte(`<testsuites/>`), 0o644)
	writeFile(t, dir, "output.txt", bytes.Repeat([]byte("0123456789abcdef"), 40<<10/16), 0o644)
	writeFile(t, dir, "artifacts/huge.bin", make([]byte, 40<<10), 0o644)
	writeFile(t, dir, "artifacts/small.txt", []byte("small"), 0o644)
	require.NoError(t, os.Symlink("/etc/hostname", filepath.Join(dir, "artifacts", "link")))
	finish(t, dir)

	var out bytes.Buffer
	require.NoError(t, Run(context.Background(), dir, &out, Options{Limit: limit}))
	assert.LessOrEqual(t, out.Len(), limit)

	got := decodeLog(t, out.Bytes())
	assert.Contains(t, got, "junit.xml")
	assert.Contains(t, got, "exitcode")
	assert.Contains(t, got, "artifacts/small.txt")
	assert.NotContains(t, got, "artifacts/huge.bin")
	assert.NotContains(t, got, "artifacts/link")
	require.Contains(t, got, transport.TruncatedFile)
	notes := string(got[transport.TruncatedFile].Data)
	for _, want := range []string{
		"skipped artifacts/huge.bin (40960 bytes): larger than the 32768 bytes read from any file",
		"skipped artifacts/link: not a regular file",
		"output.txt: read the last 32768 of 40960 bytes",
	} {
		assert.Contains(t, notes, want)
	}
}

func TestRunDefaultLimit(t *testing.T) {
	dir := t.TempDir()
	finish(t, dir)
	writeFile(t, dir, "output.txt", bytes.Repeat([]byte("x"), 3<<20), 0o644)
	var out bytes.Buffer
	require.NoError(t, Run(context.Background(), dir, &out, Options{}))
	assert.LessOrEqual(t, out.Len(), DefaultLimit)
	assert.Contains(t, decodeLog(t, out.Bytes()), "output.txt")
}

// TestRunLinger measures the linger on a fake clock stepped one poll at a
// time whenever Run waits, so its bounds are exact: it ends at the first poll
// that sees its duration passed, or the file changed, and at once when
// cancelled.
func TestRunLinger(t *testing.T) {
	const poll = 10 * time.Millisecond
	tests := []struct {
		name    string
		content *string // nil: no file
		change  *string // written once the linger has lasted 150 ms, when set
		cancel  bool    // ctx cancelled once the linger has lasted 150 ms
		atLeast time.Duration
		atMost  time.Duration
	}{
		{name: "duration", content: ptr("300ms"), atLeast: 300 * time.Millisecond, atMost: 300 * time.Millisecond},
		{name: "seconds as a number, quoted", content: ptr(`"1"`), atLeast: time.Second, atMost: time.Second},
		{name: "zero", content: ptr("0"), atMost: 0},
		{name: "empty", content: ptr(""), atMost: 0},
		{name: "unreadable value", content: ptr("a while"), atMost: 0},
		{name: "no file", atMost: 0},
		{name: "set to zero while lingering", content: ptr("1m"), change: ptr("0"), atLeast: 150 * time.Millisecond, atMost: 150*time.Millisecond + poll},
		{name: "emptied while lingering", content: ptr("1m"), change: ptr(""), atLeast: 150 * time.Millisecond, atMost: 150*time.Millisecond + poll},
		{name: "cancelled while lingering", content: ptr("1m"), cancel: true, atLeast: 150 * time.Millisecond, atMost: 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			finish(t, dir)
			linger := filepath.Join(t.TempDir(), "linger")
			if tt.content != nil {
				writeFile(t, filepath.Dir(linger), "linger", []byte(*tt.content), 0o644)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := newLogBuffer()
			clk := newWaitClock()
			start := clk.Now()
			returned := make(chan error, 1)
			go func() {
				returned <- Run(ctx, dir, out, Options{LingerFile: linger, PollInterval: poll, Clock: clk})
			}()

			deadline := time.After(time.Minute) // real time: a hang, not a pace
			var elapsed time.Duration
		drive:
			for {
				select {
				case err := <-returned:
					require.NoError(t, err)
					elapsed = clk.Since(start)
					break drive
				case <-clk.waiting:
				case <-deadline:
					t.Fatalf("Run still lingers after %s of fake time", clk.Since(start))
				}
				if clk.Since(start) >= 150*time.Millisecond {
					if tt.change != nil {
						require.NoError(t, os.WriteFile(linger, []byte(*tt.change), 0o644))
					}
					if tt.cancel {
						cancel()
						continue // not stepped: cancellation alone must end it
					}
				}
				clk.Step(poll)
			}
			assert.GreaterOrEqual(t, elapsed, tt.atLeast)
			assert.LessOrEqual(t, elapsed, tt.atMost)
			decodeLog(t, out.Bytes())
		})
	}
}

func ptr(s string) *string { return &s }

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestRunWriteError(t *testing.T) {
	dir := t.TempDir()
	finish(t, dir)
	err := Run(context.Background(), dir, failingWriter{}, Options{})
	require.ErrorIs(t, err, os.ErrClosed)
	assert.True(t, strings.HasPrefix(err.Error(), "shipping results: "), err.Error())
}

func TestRunShipsTheStreamedEntries(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "cases/000001.json", []byte(`{"nodeid": "t.py::a"}`), 0o644)
	writeFile(t, dir, "cases/000002.json", []byte(`{"nodeid": "t.py::b"}`), 0o644)
	writeFile(t, dir, "cases/.000003.json.tmp", []byte(`{"nodeid": "t.py::c", "partial`), 0o644)
	writeFile(t, dir, "cases/current", []byte(`{"nodeid": "t.py::c"}`), 0o644)
	writeFile(t, dir, "cases/000004.json", bytes.Repeat([]byte("x"), 16*4096+1), 0o644)
	writeFile(t, dir, "times", []byte(`{"start": 1, "exit": 2}`), 0o644)
	finish(t, dir)
	out := newLogBuffer()
	// A limit below the entries' total: they are never cut, the block
	// grows past it instead.
	require.NoError(t, Run(context.Background(), dir, out, Options{Limit: 4096, PollInterval: 5 * time.Millisecond}))
	got := decodeLog(t, out.Bytes())
	assert.Equal(t, `{"nodeid": "t.py::a"}`, string(got["cases/000001.json"].Data))
	assert.Equal(t, `{"nodeid": "t.py::b"}`, string(got["cases/000002.json"].Data))
	assert.Equal(t, `{"nodeid": "t.py::c"}`, string(got["cases/current"].Data))
	assert.Contains(t, got, "times")
	_, partial := got["cases/.000003.json.tmp"]
	assert.False(t, partial, "a partial entry is not shipped")
	_, large := got["cases/000004.json"]
	assert.False(t, large, "an entry larger than a file may be is left out")
	assert.Contains(t, string(got["TRUNCATED"].Data), "cases/000004.json")
}
