# The action's image: k8s-testrun and k8s-testrun-pod, the binary the test
# images carry, as static binaries, plus Python 3 and pip, because the test
# image's dependency layer is built here, by pip, for the cluster's platform
# (wheels only), and never inside the cluster. The pods'
# coverage data is combined in the cluster, with the test image's own
# coverage.py, so the image needs none.
#
# The release workflow builds and pushes this image to ghcr.io and pins
# action.yml to it, so workflows that use a released action never compile
# Go. test/image checks that this file builds what it should.

# The base images are build arguments so that a machine without access to
# Docker Hub can build this file on local stand-ins (test/action does); the
# defaults are what the released image is built on.
ARG GO_IMAGE=golang:1.26
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api ./api
COPY cmd ./cmd
COPY manifests ./manifests
COPY internal ./internal
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/k8s-testrun/k8s-testrun/internal/app.Version=${VERSION}" -o /out/k8s-testrun ./cmd/action
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/k8s-testrun-pod ./cmd/k8s-testrun-pod

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-pip \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/k8s-testrun /usr/local/bin/k8s-testrun
# Beside the CLI, where it looks for it: the binary the test images carry.
COPY --from=build /out/k8s-testrun-pod /usr/local/bin/k8s-testrun-pod
# The runner starts the container with the workspace as its working
# directory and GITHUB_ACTIONS=true, which selects the action command.
ENTRYPOINT ["/usr/local/bin/k8s-testrun"]
