package app

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version and Commit are set at build time:
//
//	go build -ldflags "-X github.com/k8s-testrun/k8s-testrun/internal/app.Version=v1.2.3 -X github.com/k8s-testrun/k8s-testrun/internal/app.Commit=$(git rev-parse HEAD)"
//
// Without them the module version and the VCS revision Go stamped into the
// binary are used, when there are any.
var (
	Version = "dev"
	Commit  = ""
)

// clientGoModule is the Kubernetes client library whose version the
// version output names.
const clientGoModule = "k8s.io/client-go"

// buildVersion is what `k8s-testrun version` prints.
type buildVersion struct {
	Version  string
	Commit   string
	Modified bool
	Go       string
	Platform string
	ClientGo string
}

func versionInfo() buildVersion {
	info, _ := debug.ReadBuildInfo()
	return versionFrom(info)
}

// versionFrom reads what Go recorded in the binary: the module's version,
// the VCS revision and the client-go it was built with. A test binary
// records no dependencies.
func versionFrom(info *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: Version, Commit: Commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info == nil {
		return v
	}
	if v.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.Commit == "" {
				v.Commit = s.Value
			}
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	for _, d := range info.Deps {
		if d.Path == clientGoModule {
			if d.Replace != nil {
				d = d.Replace
			}
			v.ClientGo = d.Version
		}
	}
	return v
}

// String is the version text, one fact a line.
func (v buildVersion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "k8s-testrun %s\n", v.Version)
	commit := v.Commit
	switch {
	case commit == "":
		commit = "unknown"
	case v.Modified:
		commit += " (modified)"
	}
	fmt.Fprintf(&b, "commit:     %s\n", commit)
	fmt.Fprintf(&b, "go:         %s %s\n", v.Go, v.Platform)
	client := "unknown"
	if v.ClientGo != "" {
		client = v.ClientGo
		if k := kubernetesRelease(v.ClientGo); k != "" {
			client += " (Kubernetes " + k + ")"
		}
	}
	fmt.Fprintf(&b, "client-go:  %s\n", client)
	return b.String()
}

// kubernetesRelease maps a client-go version v0.X.Y to the Kubernetes
// release 1.X.Y it is cut from.
func kubernetesRelease(clientGo string) string {
	rest, ok := strings.CutPrefix(clientGo, "v0.")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "-")
	return "1." + rest
}
