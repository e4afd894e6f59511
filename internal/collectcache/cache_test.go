package collectcache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/transport"
)

// collectionLog is a discovery pod's log: pytest's output, the markers
// plugin's lines, and the block with pytest's JUnit.
func collectionLog(t *testing.T, ids ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, id := range ids {
		b.WriteString(id + "\n")
	}
	b.WriteString(`k8s-testrun-marks {"nodeid": "` + ids[0] + `", "markers": ["slow"]}` + "\n")
	b.WriteString(`k8s-testrun-versions {"python": "3.11.2", "pytest": "7.2.1"}` + "\n")
	fmt.Fprintf(&b, "\n%d tests collected in 0.01s\n", len(ids))
	xml := `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="1" tests="1" time="0.01">` +
		`<testcase classname="" name="tests.test_gone" file="tests/test_gone.py"><skipped type="pytest.skip" message="collection skipped">no module</skipped></testcase>` +
		`</testsuite></testsuites>`
	require.NoError(t, transport.Encode(&b, []transport.File{{Name: discover.JUnitFile, Data: []byte(xml)}}, transport.DefaultBlock))
	return b.Bytes()
}

// tamper rewrites the bytes of one blob the registry serves, and notes the
// paths of the requests it gets.
type tamper struct {
	http.Handler
	mu     sync.Mutex
	digest string
	body   []byte
	paths  []string
}

func (t *tamper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	digest, body := t.digest, t.body
	t.paths = append(t.paths, r.Method+" "+r.URL.Path)
	t.mu.Unlock()
	if digest != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+digest) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
		return
	}
	t.Handler.ServeHTTP(w, r)
}

// setup starts an in-memory registry, with or without the referrers API,
// pushes a test image to it and returns the image's digest reference.
func setup(t *testing.T, referrers bool) (name.Digest, *tamper) {
	t.Helper()
	h := &tamper{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrers))}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	img, err := random.Image(128, 1)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	ref, err := name.NewDigest(u.Host + "/proj@" + d.String())
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	return ref, h
}

var key = Key{
	Base: "python:3.12", Selection: []string{"-k", "fast"},
	Command: []string{"/ktr", "shim", "--", "/ktr", "collect", "--", "-k", "fast"}, Plugins: "sha256:aa",
}

var ids = []string{"tests/test_a.py::test_one", "tests/test_a.py::test_two"}

func TestStoreThenFind(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag scheme"}[referrers], func(t *testing.T) {
			ctx := context.Background()
			image, reg := setup(t, referrers)
			c := newCache(t, Options{})

			_, ok := c.Find(ctx, image, key)
			assert.False(t, ok, "nothing stored yet")

			require.NoError(t, c.Store(ctx, image, key, collectionLog(t, ids...)))
			reg.mu.Lock()
			reg.paths = nil
			reg.mu.Unlock()
			found, ok := c.Find(ctx, image, key)
			require.True(t, ok)
			// Find reads the recorded manifest and its blobs, and lists
			// nothing: neither referrers nor the fallback tag.
			reg.mu.Lock()
			paths := reg.paths
			reg.mu.Unlock()
			require.NotEmpty(t, paths)
			for _, p := range paths {
				assert.NotContains(t, p, "/referrers/")
				assert.NotContains(t, p, "/manifests/sha256-")
			}
			assert.Equal(t, ids, found.IDs)
			assert.Equal(t, []string{"slow"}, found.Marks[ids[0]])
			assert.Equal(t, discover.Versions{Python: "3.11.2", Pytest: "7.2.1"}, found.Versions)
			require.Len(t, found.Skipped, 1)
			assert.Equal(t, "tests/test_gone.py", found.Skipped[0].File)

			// Where the registry lacks the API, the artifact is listed
			// under the sha256-<hex> tag.
			tag := image.Context().Tag(strings.Replace(image.DigestStr(), ":", "-", 1))
			_, err := remote.Head(tag)
			if referrers {
				assert.Error(t, err, "no fallback tag with the API")
			} else {
				assert.NoError(t, err, "the fallback tag %s", tag)
			}
			// The artifact keeps its subject: the registry lists it.
			idx, err := remote.Referrers(image)
			require.NoError(t, err)
			im, err := idx.IndexManifest()
			require.NoError(t, err)
			require.Len(t, im.Manifests, 1)
			assert.Equal(t, ArtifactType, im.Manifests[0].ArtifactType)
			assert.Equal(t, key.Digest(), im.Manifests[0].Annotations[KeyAnnotation])
		})
	}
}

func TestFindMissesOnAnotherKey(t *testing.T) {
	ctx := context.Background()
	image, _ := setup(t, false)
	c := newCache(t, Options{})
	require.NoError(t, c.Store(ctx, image, key, collectionLog(t, ids...)))

	change := map[string]func(k *Key){
		"selection": func(k *Key) { k.Selection = []string{"-k", "slow"} },
		"command":   func(k *Key) { k.Command = append(append([]string{}, k.Command...), "--check-coverage") },
		"base":      func(k *Key) { k.Base = "python:3.13" },
		"plugins":   func(k *Key) { k.Plugins = "sha256:bb" },
		"template":  func(k *Key) { k.Template = "sha256:cc" },
	}
	for what, f := range change {
		t.Run(what, func(t *testing.T) {
			k := key
			f(&k)
			_, ok := c.Find(ctx, image, k)
			assert.False(t, ok)
		})
	}
	// Another image, the same key.
	other, _ := setup(t, false)
	_, ok := c.Find(ctx, other, key)
	assert.False(t, ok)
}

// debugLog is a logger whose debug lines land in a buffer.
func debugLog() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

func TestFindIgnoresATamperedLog(t *testing.T) {
	ctx := context.Background()
	image, reg := setup(t, false)
	logger, lines := debugLog()
	c := newCache(t, Options{Logger: logger})
	logText := collectionLog(t, ids...)
	require.NoError(t, c.Store(ctx, image, key, logText))

	// The same size, other bytes: a test id more, one less.
	forged := bytes.Replace(logText, []byte("test_two"), []byte("test_evi"), 1)
	layer := static.NewLayer(logText, LogMediaType)
	d, err := layer.Digest()
	require.NoError(t, err)
	reg.mu.Lock()
	reg.digest, reg.body = d.String(), forged
	reg.mu.Unlock()

	_, ok := c.Find(ctx, image, key)
	assert.False(t, ok)
	assert.Contains(t, lines.String(), "error verifying")
}

// push writes an artifact the way Store does, with its layer's bytes,
// media type and annotation of a test's choosing.
func push(t *testing.T, image name.Digest, layer []byte, layerType types.MediaType, keyDigest string) v1.Hash {
	t.Helper()
	subject, err := remote.Head(image)
	require.NoError(t, err)
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(layer, layerType)})
	require.NoError(t, err)
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), ArtifactType)
	img = mutate.Annotations(img, map[string]string{KeyAnnotation: keyDigest}).(v1.Image)
	img = mutate.Subject(img, *subject).(v1.Image)
	d, err := img.Digest()
	require.NoError(t, err)
	require.NoError(t, remote.Write(image.Context().Digest(d.String()), img))
	return d
}

func TestFindIgnoresWhatDoesNotParseOrIsTooLarge(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		layer     []byte
		layerType types.MediaType
		maxLog    int64
		why       string
	}{
		"not pytest's output": {[]byte("hello\n"), LogMediaType, 0, "parsing the log"},
		"count disagrees": {bytes.Replace(collectionLog(t, ids...), []byte("2 tests collected"), []byte("3 tests collected"), 1),
			LogMediaType, 0, "parsing the log"},
		"no block":       {[]byte(strings.Join(ids, "\n") + "\n\n2 tests collected in 0.01s\n"), LogMediaType, 0, "parsing the log"},
		"over the bound": {collectionLog(t, ids...), LogMediaType, 100, "over the 100-byte bound"},
		"another layer":  {collectionLog(t, ids...), types.OCILayer, 0, "not a collection artifact"},
	}
	for what, tc := range cases {
		t.Run(what, func(t *testing.T) {
			image, _ := setup(t, false)
			logger, lines := debugLog()
			c := newCache(t, Options{Logger: logger, MaxLog: tc.maxLog})
			// As if this machine had stored it: the checks hold even then.
			recordArtifact(t, c, image, push(t, image, tc.layer, tc.layerType, key.Digest()))
			_, ok := c.Find(ctx, image, key)
			assert.False(t, ok)
			assert.Contains(t, lines.String(), tc.why)
		})
	}
}

// A recorded artifact that does not verify or parse is a miss; a good one
// stored after it replaces the record and is found.
func TestFindSkipsABadArtifactForAGoodOne(t *testing.T) {
	ctx := context.Background()
	image, _ := setup(t, false)
	c := newCache(t, Options{})
	recordArtifact(t, c, image, push(t, image, []byte("garbage"), LogMediaType, key.Digest()))
	_, ok := c.Find(ctx, image, key)
	require.False(t, ok)
	require.NoError(t, c.Store(ctx, image, key, collectionLog(t, ids...)))
	found, ok := c.Find(ctx, image, key)
	require.True(t, ok)
	assert.Equal(t, ids, found.IDs)
}

// Without a place for records, Store pushes nothing and Find finds
// nothing.
func TestNoRecordsNoCache(t *testing.T) {
	ctx := context.Background()
	image, _ := setup(t, true)
	c := New(Options{})
	assert.ErrorContains(t, c.Store(ctx, image, key, collectionLog(t, ids...)), "no place on this machine to record it")
	idx, err := remote.Referrers(image)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	assert.Empty(t, im.Manifests)
	_, ok := c.Find(ctx, image, key)
	assert.False(t, ok)
}

func TestStoreRefusesALogOverTheBound(t *testing.T) {
	image, _ := setup(t, false)
	err := newCache(t, Options{MaxLog: 10}).Store(context.Background(), image, key, collectionLog(t, ids...))
	assert.ErrorContains(t, err, "over the 10-byte bound")
}

// newCache is a Cache on a machine of its own: its records in a
// directory of their own.
func newCache(t *testing.T, opts Options) *Cache {
	t.Helper()
	opts.Records = build.OpenRecords(t.TempDir(), nil, RecordKind, RecordsKept, nil)
	require.NotNil(t, opts.Records)
	return New(opts)
}

// record writes, on c's machine, the record of the artifact with digest d
// as the one stored for image under key.
func recordArtifact(t *testing.T, c *Cache, image name.Digest, d v1.Hash) {
	t.Helper()
	require.NoError(t, c.records.Write(recordKey(image, key.Digest()), record{Artifact: d.String()}))
}

// pushForged attaches, as someone who can push to the registry (a test pod
// may), an artifact in Store's format whose log lists only forgedIDs.
func pushForged(t *testing.T, image name.Digest, forgedIDs ...string) {
	t.Helper()
	push(t, image, collectionLog(t, forgedIDs...), LogMediaType, key.Digest())
}

// Only what this machine stored is used: an artifact in Store's format,
// with the right subject and key, that someone else attached is never
// used, whether this machine has no record for the key or a record of the
// genuine artifact.
func TestFindUsesOnlyWhatThisMachineRecorded(t *testing.T) {
	ctx := context.Background()
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag scheme"}[referrers], func(t *testing.T) {
			t.Run("no record", func(t *testing.T) {
				image, _ := setup(t, referrers)
				pushForged(t, image, ids[0])
				found, ok := newCache(t, Options{}).Find(ctx, image, key)
				assert.False(t, ok, "a forged collection was used: %v", found.IDs)
			})
			t.Run("a record of the genuine artifact", func(t *testing.T) {
				image, _ := setup(t, referrers)
				c := newCache(t, Options{})
				require.NoError(t, c.Store(ctx, image, key, collectionLog(t, ids...)))
				// Attached after the genuine one: the newest.
				pushForged(t, image, ids[0])
				found, ok := c.Find(ctx, image, key)
				require.True(t, ok)
				assert.Equal(t, ids, found.IDs, "the forged collection was used")
			})
			t.Run("forged first, then stored", func(t *testing.T) {
				image, _ := setup(t, referrers)
				pushForged(t, image, ids[0])
				c := newCache(t, Options{})
				require.NoError(t, c.Store(ctx, image, key, collectionLog(t, ids...)))
				pushForged(t, image, ids[1])
				found, ok := c.Find(ctx, image, key)
				require.True(t, ok)
				assert.Equal(t, ids, found.IDs, "a forged collection was used")
			})
		})
	}
}

// A machine without the record (a fresh CI runner) discovers once: it does
// not take another machine's artifact on the registry's word.
func TestFindOnAFreshMachineMisses(t *testing.T) {
	ctx := context.Background()
	image, _ := setup(t, false)
	require.NoError(t, newCache(t, Options{}).Store(ctx, image, key, collectionLog(t, ids...)))
	fresh := newCache(t, Options{})
	_, ok := fresh.Find(ctx, image, key)
	assert.False(t, ok)
	require.NoError(t, fresh.Store(ctx, image, key, collectionLog(t, ids...)))
	found, ok := fresh.Find(ctx, image, key)
	require.True(t, ok)
	assert.Equal(t, ids, found.IDs)
}

// A registry that lost what this machine recorded (reset, pruned) is a
// quiet miss: no warning, and the next Store records anew. A record whose
// artifact is there but does not verify stays a warning.
func TestFindMissesQuietlyWhenTheRegistryLostTheArtifact(t *testing.T) {
	ctx := context.Background()
	image, _ := setup(t, false)
	logger, lines := debugLog()
	c := newCache(t, Options{Logger: logger})
	recordArtifact(t, c, image, v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)})

	_, ok := c.Find(ctx, image, key)
	assert.False(t, ok)
	assert.Contains(t, lines.String(), "level=DEBUG msg=\"collection cache: the registry no longer holds")
	assert.NotContains(t, lines.String(), "level=WARN")

	require.NoError(t, c.Store(ctx, image, key, collectionLog(t, ids...)))
	found, ok := c.Find(ctx, image, key)
	require.True(t, ok)
	assert.Equal(t, ids, found.IDs)

	recordArtifact(t, c, image, push(t, image, []byte("garbage"), LogMediaType, key.Digest()))
	_, ok = c.Find(ctx, image, key)
	assert.False(t, ok)
	assert.Contains(t, lines.String(), "level=WARN")
}

// FindLog gives the stored log byte for byte, for the operator to parse
// again, with the collection Find gives.
func TestFindLogGivesTheStoredLog(t *testing.T) {
	ctx := context.Background()
	image, _ := setup(t, true)
	c := newCache(t, Options{})
	_, log, ok := c.FindLog(ctx, image, key)
	assert.False(t, ok)
	assert.Nil(t, log)
	stored := collectionLog(t, ids...)
	require.NoError(t, c.Store(ctx, image, key, stored))
	found, log, ok := c.FindLog(ctx, image, key)
	require.True(t, ok)
	assert.Equal(t, stored, log)
	assert.Equal(t, ids, found.IDs)
}
