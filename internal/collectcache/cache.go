// Package collectcache keeps what a discovery pod found beside the test
// image it ran in: an OCI artifact whose subject is the image's manifest
// (so the registry's referrers API, or the sha256-<hex> tag that signing
// tools use where it lacks it, lists it), and, on this machine, a record of
// the artifact's manifest digest under the image and the key.
//
// The artifact holds the discovery pod's log as it was read, and a key: the
// selection, the discovery command, the base image, the pod template and
// the plugins injected into pytest. A run whose key and image match reads
// the log from the artifact instead of starting a discovery pod. Whoever
// can push to the registry (a test pod may) can attach an artifact to the
// image, with the right key and a log that lists only some of the tests; so
// Find never takes the registry's list: it reads only the manifest this
// machine recorded when it stored the collection, by its digest, which its
// bytes are checked against. A machine without the record (a fresh CI
// runner) discovers once, then stores and records. The log is untrusted
// all the same, as the discovery pod's own: it is bounded as the pod's log
// is, its layer's digest is checked against its bytes, and it goes through
// the same parser (discover.ParseLog). An artifact that fails any of this
// is a miss, never an error.
package collectcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/k8s-testrun/k8s-testrun/internal/discover"
)

// ArtifactType names a k8s-testrun collection among an image's referrers:
// the artifact's config media type, which both the referrers API and the
// tag scheme report as its artifactType. Find checks it, never lists it.
const ArtifactType = "application/vnd.k8s-testrun.collection.v1+json"

// LogMediaType is the media type of the artifact's one layer: the
// discovery pod's log, uncompressed.
const LogMediaType = "application/vnd.k8s-testrun.collection.log.v1"

// KeyAnnotation holds the key's digest on the artifact's manifest, and so
// on its descriptor among the referrers.
const KeyAnnotation = "dev.k8s-testrun.collection.key"

// DefaultMaxLog bounds a stored log as the discovery pod's log is bounded
// (k8s.MaxOneOffLog).
const DefaultMaxLog = 64 << 20

// RecordKind names the records of stored collections among this machine's
// records (build.OpenRecords); RecordsKept bounds them, the least recently
// used dropped first.
const (
	RecordKind  = "collection"
	RecordsKept = 256
)

// Key is what a collection depends on besides the image: a change to any
// part is a miss.
type Key struct {
	// Base is the base image as the run named it.
	Base string `json:"base"`
	// Selection is the user's pytest selection and arguments (paths, -k,
	// -m, options).
	Selection []string `json:"selection"`
	// Command is the discovery pod's whole command, the injected plugins'
	// options included.
	Command []string `json:"command"`
	// Plugins is a digest of the plugin sources injected into pytest.
	Plugins string `json:"plugins"`
	// Template is a digest of the pod template, whose environment can
	// change what pytest collects.
	Template string `json:"template,omitempty"`
}

// Digest is the key as the artifact carries it: sha256 of its JSON.
func (k Key) Digest() string {
	b, _ := json.Marshal(struct {
		Version int `json:"v"`
		Key
	}{1, k})
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Records keep small JSON records on this machine, out of the registry's
// and the test pods' reach (build.Records).
type Records interface {
	// Read decodes the record of key into v; false when there is none.
	Read(key string, v any) bool
	// Write keeps v as the record of key, replacing any.
	Write(key string, v any) error
}

// record is what Store pushed for an image and a key.
type record struct {
	// Artifact is the digest of the artifact's manifest.
	Artifact string `json:"artifact"`
}

// recordKey is the record's key for image and the key's digest.
func recordKey(image name.Digest, key string) string {
	return image.Context().Name() + "@" + image.DigestStr() + " " + key
}

// Options are a Cache's settings.
type Options struct {
	// Records is where Store records what it pushed and the only place
	// Find trusts; nil finds nothing and stores nothing.
	Records Records
	// Transport carries every registry request; default
	// remote.DefaultTransport.
	Transport http.RoundTripper
	// Keychain supplies registry credentials; default
	// authn.DefaultKeychain.
	Keychain authn.Keychain
	// MaxLog bounds the log read back; zero means DefaultMaxLog.
	MaxLog int64
	// Logger hears of misses and why; nil discards.
	Logger *slog.Logger
}

// Cache stores and finds collections in a registry.
type Cache struct {
	records   Records
	transport http.RoundTripper
	keychain  authn.Keychain
	maxLog    int64
	log       *slog.Logger
}

// New returns a Cache with opts.
func New(opts Options) *Cache {
	c := &Cache{records: opts.Records, transport: opts.Transport, keychain: opts.Keychain, maxLog: opts.MaxLog, log: opts.Logger}
	if c.transport == nil {
		c.transport = remote.DefaultTransport
	}
	if c.keychain == nil {
		c.keychain = authn.DefaultKeychain
	}
	if c.maxLog <= 0 {
		c.maxLog = DefaultMaxLog
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c *Cache) remote(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(c.transport), remote.WithAuthFromKeychain(c.keychain)}
}

// Store attaches log, the log of a discovery pod that ran in image and
// whose collection parsed, to image under key, and records the artifact on
// this machine.
func (c *Cache) Store(ctx context.Context, image name.Digest, key Key, log []byte) error {
	if c.records == nil {
		return errors.New("storing the collection: no place on this machine to record it")
	}
	if int64(len(log)) > c.maxLog {
		return fmt.Errorf("storing the collection: log of %d bytes is over the %d-byte bound", len(log), c.maxLog)
	}
	ropts := c.remote(ctx)
	subject, err := remote.Head(image, ropts...)
	if err != nil {
		return fmt.Errorf("storing the collection: reading %s: %w", image, err)
	}
	want := key.Digest()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(log, LogMediaType)})
	if err != nil {
		return fmt.Errorf("storing the collection: %w", err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, ArtifactType)
	img = mutate.Annotations(img, map[string]string{KeyAnnotation: want}).(v1.Image)
	img = mutate.Subject(img, v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest}).(v1.Image)
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("storing the collection: %w", err)
	}
	if err := remote.Write(image.Context().Digest(d.String()), img, ropts...); err != nil {
		return fmt.Errorf("storing the collection beside %s: %w", image, err)
	}
	if err := c.records.Write(recordKey(image, want), record{Artifact: d.String()}); err != nil {
		return fmt.Errorf("recording the collection on this machine: %w", err)
	}
	return nil
}

// Find returns the collection this machine stored with image under key,
// parsed by discover.ParseLog, and true; or false when there is no record
// of one, or the recorded one does not verify and parse, with the reason
// logged. Other artifacts attached to image are never read.
func (c *Cache) Find(ctx context.Context, image name.Digest, key Key) (discover.Collection, bool) {
	found, _, ok := c.FindLog(ctx, image, key)
	return found, ok
}

// FindLog is Find with the stored log the collection was parsed from, as
// the discovery pod printed it, for a reader that parses it again
// elsewhere (the operator).
func (c *Cache) FindLog(ctx context.Context, image name.Digest, key Key) (discover.Collection, []byte, bool) {
	want := key.Digest()
	var rec record
	if c.records == nil || !c.records.Read(recordKey(image, want), &rec) {
		c.log.Debug("collection cache: no record of a collection for this image and key on this machine", "image", image.String(), "key", want)
		return discover.Collection{}, nil, false
	}
	d, err := v1.NewHash(rec.Artifact)
	if err == nil {
		var (
			found discover.Collection
			log   []byte
		)
		if found, log, err = c.read(ctx, image, d, want); err == nil {
			return found, log, true
		}
	}
	if gone(err) {
		// A registry that was reset or pruned is an ordinary miss, not
		// a sign of tampering: discovery runs and Store records anew.
		c.log.Debug("collection cache: the registry no longer holds the collection this machine recorded", "image", image.String(), "artifact", rec.Artifact)
		return discover.Collection{}, nil, false
	}
	c.log.Warn("collection cache: ignoring the collection this machine recorded", "image", image.String(), "artifact", rec.Artifact, "error", err)
	return discover.Collection{}, nil, false
}

// gone reports whether err is the registry's answer that it holds no
// manifest of that digest.
func gone(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestUnknownErrorCode {
			return true
		}
	}
	return false
}

// errArtifact is an artifact that is not one Store writes.
var errArtifact = errors.New("not a collection artifact")

// read reads and parses the artifact whose manifest has digest d, and
// returns its log too; go-containerregistry checks the manifest's and the
// layer's digests against their bytes as it reads them.
func (c *Cache) read(ctx context.Context, image name.Digest, d v1.Hash, key string) (discover.Collection, []byte, error) {
	img, err := remote.Image(image.Context().Digest(d.String()), c.remote(ctx)...)
	if err != nil {
		return discover.Collection{}, nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return discover.Collection{}, nil, err
	}
	switch {
	case m.Config.MediaType != ArtifactType:
		return discover.Collection{}, nil, fmt.Errorf("%w: config media type %q", errArtifact, m.Config.MediaType)
	case m.Subject == nil || m.Subject.Digest != mustHash(image.DigestStr()):
		return discover.Collection{}, nil, fmt.Errorf("%w: its subject is not %s", errArtifact, image.DigestStr())
	case m.Annotations[KeyAnnotation] != key:
		return discover.Collection{}, nil, fmt.Errorf("%w: its key is not %s", errArtifact, key)
	case len(m.Layers) != 1 || m.Layers[0].MediaType != LogMediaType:
		return discover.Collection{}, nil, fmt.Errorf("%w: %d layers, not one %s", errArtifact, len(m.Layers), LogMediaType)
	case m.Layers[0].Size < 0 || m.Layers[0].Size > c.maxLog:
		return discover.Collection{}, nil, fmt.Errorf("%w: a log of %d bytes, over the %d-byte bound", errArtifact, m.Layers[0].Size, c.maxLog)
	}
	layer, err := img.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		return discover.Collection{}, nil, err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return discover.Collection{}, nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	// The reader checks the digest at its end, which the size in the
	// manifest, within the bound, puts there.
	if _, err := io.Copy(&buf, io.LimitReader(rc, c.maxLog+1)); err != nil {
		return discover.Collection{}, nil, fmt.Errorf("reading the log: %w", err)
	}
	if int64(buf.Len()) > c.maxLog {
		return discover.Collection{}, nil, fmt.Errorf("%w: a log over the %d-byte bound", errArtifact, c.maxLog)
	}
	// Store keeps only logs of a collection that succeeded: exit code 0.
	found, err := discover.ParseLog(buf.Bytes(), 0)
	if err != nil {
		return discover.Collection{}, nil, fmt.Errorf("parsing the log: %w", err)
	}
	return found, buf.Bytes(), nil
}

func mustHash(s string) v1.Hash {
	h, _ := v1.NewHash(s)
	return h
}
