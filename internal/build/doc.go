// Package build assembles and pushes the test image without a container
// daemon, using go-containerregistry.
//
// The image is the base image, resolved for the cluster's platform, plus up
// to three layers, ordered from the least to the most often changed:
//
//   - the Python dependencies, installed by pip on the build side as wheels
//     for the base image's Python version and platform, under
//     [layout.DepsDir];
//   - the pod binary, k8s-testrun-pod (cmd/k8s-testrun-pod), at
//     [layout.BinaryPath], so the shim and the collector run from the test
//     image itself; it links no Kubernetes or GitHub client, so the layer
//     weighs a few megabytes;
//   - the project's sources under [layout.WorkDir], filtered by a
//     .dockerignore-style file.
//
// Every layer is reproducible: entries are sorted, times, owners and modes
// are normalised and the gzip level is fixed, so an unchanged input yields
// the same digest and the registry already has the blob. The dependencies
// layer is also cached in the target repository under a tag derived from the
// requirements file, the base image digest and the platform, so an unchanged
// requirements file costs neither a pip run nor an upload. Test pods may be
// able to push to that repository, so a tag is only reused when its layer is
// the one this machine recorded for the key in [Options.CacheDir]. Only
// blobs the registry lacks travel; [Result] reports how many and how large.
//
// Nothing of the project runs on the build side. The requirements are read
// by pip's own parser (reqparse.py), and pip then installs them; both run
// as isolated Python (-I) with the environment of [PipEnv], from a
// workspace outside the project that holds checked copies of the
// requirements files and of the wheels they name, and, when this process is
// root, as the unprivileged user 65534. Lines that would let pip build from
// source, read outside the project or take an option outside a short
// allowlist are refused as [RequirementsError]s that name the file and line,
// never the content.
//
// A cache on the build machine ([Options.CacheDir]) keeps the compressed
// binary layer, by the digest of its uncompressed tar, and what was learnt
// of each base image, by its digest and the platform, so a rebuild with the
// same binary compresses only the sources and never reads the base's
// layers again. A damaged entry is noticed (the blob is hashed before use)
// and rebuilt.
//
// The package knows nothing of Kubernetes: it returns the pushed image as a
// digest reference and leaves running it to others.
package build
