package shim

import (
	"crypto/sha256"
	"encoding/hex"
)

// PluginsDigest is a digest of the pytest plugins the shim injects: what
// they print in discovery depends on their source, so a cached collection
// is only good for the same sources.
func PluginsDigest() string {
	h := sha256.New()
	for _, src := range [][]byte{streamPlugin, markersPlugin} {
		h.Write(src)
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
