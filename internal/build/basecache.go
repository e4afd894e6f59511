package build

import "context"

// baseInspectionRecipe names the way inspectBase reads a base image. It is
// part of the cache key of what it learnt, so changing what inspectBase
// looks for must change it.
const baseInspectionRecipe = "k8s-testrun base inspection v2"

const baseCacheKind = "base"

// cachedBaseInfo is baseInfo as the cache keeps it.
type cachedBaseInfo struct {
	Python string `json:"python"`
	Pytest bool   `json:"pytest"`
	Musl   bool   `json:"musl"`
	Glibc  string `json:"glibc,omitempty"`
	// Faketime is the path of libfaketime.so.1, "" when the base has none.
	Faketime string `json:"faketime,omitempty"`
}

// inspect returns what the dependencies step needs to know of the base.
// Reading the base's layers takes a build about half a second, and the
// answer is fixed by the base's platform-specific digest, so it is kept in
// the cache under that digest and the platform.
func (b *builder) inspect(ctx context.Context, base *baseImage) (baseInfo, error) {
	if b.baseInfo != nil {
		return *b.baseInfo, nil
	}
	info, err := b.inspectOnce(ctx, base)
	if err == nil {
		b.baseInfo = &info
	}
	return info, err
}

func (b *builder) inspectOnce(ctx context.Context, base *baseImage) (baseInfo, error) {
	key := cacheKey(baseInspectionRecipe, base.digest.String(), platformString(b.platform))
	if b.cache != nil {
		var c cachedBaseInfo
		if b.cache.readJSON(baseCacheKind, key, &c) {
			if c.Python != "" {
				b.log.Debug("base image inspection from the build cache", "digest", base.digest.String())
				return baseInfo{python: c.Python, pytest: c.Pytest, musl: c.Musl, glibc: c.Glibc, faketime: c.Faketime}, nil
			}
			b.cache.remove(baseCacheKind, key)
		}
	}
	info, err := inspectBase(ctx, base)
	if err != nil {
		return info, err
	}
	b.baseInspected = true
	if b.cache != nil {
		c := cachedBaseInfo{Python: info.python, Pytest: info.pytest, Musl: info.musl, Glibc: info.glibc, Faketime: info.faketime}
		if err := b.cache.writeJSON(baseCacheKind, key, c); err != nil {
			b.log.Warn("build cache: cannot store the base image inspection", "error", err)
		}
	}
	return info, nil
}
