package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/k8s-testrun/k8s-testrun/internal/build"
	"github.com/k8s-testrun/k8s-testrun/internal/collectcache"
	"github.com/k8s-testrun/k8s-testrun/internal/discover"
	"github.com/k8s-testrun/k8s-testrun/internal/k8s"
	"github.com/k8s-testrun/k8s-testrun/internal/shim"
)

// collectionKey is what b's collection with the discovery command argv
// depends on besides the image.
func (p *pipeline) collectionKey(b *base, argv []string) collectcache.Key {
	k := collectcache.Key{Base: b.ref, Selection: p.cfg.Selection, Command: argv, Plugins: shim.PluginsDigest()}
	if len(p.cfg.PodTemplate) > 0 {
		sum := sha256.Sum256(p.cfg.PodTemplate)
		k.Template = "sha256:" + hex.EncodeToString(sum[:])
	}
	return k
}

// newCollectionCache is the collection cache of a run whose environment is
// environ: its records on this machine in the build cache directory the
// build uses (build.Options.CacheDir's default); nil, discovering every
// time, when there is no such directory.
func newCollectionCache(environ []string, log *slog.Logger) *collectcache.Cache {
	records := build.OpenRecords("", environ, collectcache.RecordKind, collectcache.RecordsKept, log)
	if records == nil {
		return nil
	}
	return collectcache.New(collectcache.Options{Records: records, MaxLog: k8s.MaxOneOffLog, Logger: log})
}

// pushedImage is the image of digest d in the repository the build pushed
// to, as this process reaches it (not the pull registry the pods use),
// with the build's scheme: plain HTTP for a local registry.
func (p *pipeline) pushedImage(d v1.Hash) (name.Digest, error) {
	ref := p.cfg.Repository + "@" + d.String()
	return name.NewDigest(ref, build.NameOptions(ref, p.insecureRegistry)...)
}

// collectionImage is b's test image as this process reaches it.
func (p *pipeline) collectionImage(b *base) (name.Digest, error) {
	return p.pushedImage(b.image.Digest)
}

// cachedCollection is b's collection from the cache, when the image
// carries one under key.
func (p *pipeline) cachedCollection(ctx context.Context, b *base, key collectcache.Key) (discover.Collection, bool) {
	if p.collections == nil {
		return discover.Collection{}, false
	}
	image, err := p.collectionImage(b)
	if err != nil {
		p.log.Debug("collection cache: naming the test image", "error", err)
		return discover.Collection{}, false
	}
	start := time.Now()
	found, ok := p.collections.Find(ctx, image, key)
	p.log.Debug("looked in the collection cache", "found", ok, "took", time.Since(start))
	return found, ok
}

// storeCollection attaches the log of a discovery that parsed to b's
// image; a failure costs the next run a discovery pod, not this run.
func (p *pipeline) storeCollection(ctx context.Context, b *base, key collectcache.Key, log []byte) {
	if p.collections == nil {
		return
	}
	start := time.Now()
	image, err := p.collectionImage(b)
	if err == nil {
		err = p.collections.Store(ctx, image, key, log)
	}
	if err != nil {
		p.log.Warn("keeping the collection for the next run", "error", err)
		return
	}
	p.log.Debug("kept the collection beside the test image", "image", image.String(), "took", time.Since(start))
}
