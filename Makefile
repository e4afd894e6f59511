# k8s-testrun. `make demo` runs the sample project end to end on a local
# cluster; `make test` runs the unit tests and the end-to-end tests.

SHELL := /bin/bash
GO ?= go
BIN := bin/k8s-testrun
# The pod binary, beside the CLI, is what test images carry (cmd/k8s-testrun-pod).
POD_BIN := bin/k8s-testrun-pod
CLUSTER_NAME ?= ktr
CLUSTER_DIR ?= /var/lib/k8s-testrun/cluster/$(CLUSTER_NAME)
CLUSTER_ENV := $(CLUSTER_DIR)/env
E2E_TIMEOUT ?= 45m

.PHONY: build test unit e2e demo vet timeline-screenshot docs docs-check

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/action
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(POD_BIN) ./cmd/k8s-testrun-pod

vet: funclen
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/...

# The unit tests run under the race detector, which needs cgo and a C
# compiler: on a fresh Debian 12 machine (as root) gcc is installed with
# apt-get when it is missing. The test that bounds the bytes a decode
# allocates runs again without it: the detector's runtime allocates besides.
unit:
	@command -v gcc >/dev/null || { echo "installing gcc for go test -race"; apt-get update -qq && apt-get install -y -qq gcc libc6-dev >/dev/null; }
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run '^TestDecodeArtifactBomb$$' ./internal/transport/

# e2e runs against whatever cluster the environment names (KUBECONFIG,
# K8S_TESTRUN_REGISTRY, K8S_TESTRUN_BASE_IMAGE); without one, against the
# local cluster, started if it is not running.
e2e: build
	@if [ -z "$$KUBECONFIG" ]; then $(MAKE) --no-print-directory cluster-up; set -a; . $(CLUSTER_ENV); set +a; fi; \
	K8S_TESTRUN_BINARY=$(CURDIR)/$(BIN) $(GO) test -count=1 -tags e2e -timeout $(E2E_TIMEOUT) ./test/e2e/...

test: tidy-check vet unit e2e

demo: build
	@if [ -z "$$KUBECONFIG" ]; then $(MAKE) --no-print-directory cluster-up; set -a; . $(CLUSTER_ENV); set +a; fi; \
	./$(BIN) run --base-image "$$K8S_TESTRUN_BASE_IMAGE" --retries 1 --junit k8s-testrun-junit.xml testdata/sample; \
	echo "exit code $$? (1: the sample has failing tests on purpose); JUnit report: k8s-testrun-junit.xml"

# `make docs` regenerates docs/cli.md, docs/action.md and docs/api.md from
# the command tree, action.yml and api/v1alpha1; `make docs-check` fails when
# one is stale, and checks what the README and docs show (commands, workflow
# inputs, tables, the layout, the tables of bad input).
docs:
	$(GO) run ./hack/docs

docs-check:
	$(GO) run ./hack/docs -check
	$(GO) test -count=1 ./hack/docs/ ./internal/docgen/
	$(GO) test -count=1 -run '^(TestREADME|TestChangelog|TestRelease)' ./internal/app/ ./test/workflows/

# Render the timeline of the last `make demo` (timeline.html beside its JUnit
# report) in headless Chromium (Debian's package, installed when missing)
# and save a screenshot to timeline.png.
TIMELINE ?= timeline.html
timeline-screenshot:
	@test -f $(TIMELINE) || { echo "no $(TIMELINE): run make demo first, or give TIMELINE=path/to/timeline.html" >&2; exit 2; }
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	  --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$$(mktemp -d) --window-size=1400,900 \
	  --screenshot=$(CURDIR)/timeline.png file://$(abspath $(TIMELINE)) 2>/dev/null
	@test -s timeline.png && echo "wrote timeline.png"

# --- local cluster (hack/cluster) ---
# Targets of this block are owned by hack/cluster; CLUSTER_NAME, CLUSTER_DIR
# and CLUSTER_ENV are defined above.
#   make cluster-up       start the local cluster, or reuse the running one
#   make cluster-down     stop it, then check that nothing of it remains
#   make cluster-status   report each component; non-zero unless healthy
#   eval "$$(make -s e2e-env)"   point a shell at the running cluster
CLUSTER_FLAGS = --name $(CLUSTER_NAME) --dir $(CLUSTER_DIR)

.PHONY: cluster-up cluster-down cluster-status e2e-env

cluster-up:
	$(GO) run ./hack/cluster up $(CLUSTER_FLAGS)

cluster-down:
	$(GO) run ./hack/cluster down $(CLUSTER_FLAGS)
	K8S_TESTRUN_CLUSTER_DIR=$(CLUSTER_DIR) $(GO) test -count=1 -tags teardown ./test/teardown/

cluster-status:
	$(GO) run ./hack/cluster status $(CLUSTER_FLAGS)

e2e-env:
	@test -f $(CLUSTER_ENV) || { echo "no cluster env at $(CLUSTER_ENV): run make cluster-up" >&2; exit 1; }
	@sed -e '/^#/d' -e 's/^/export /' $(CLUSTER_ENV)
# --- end of local cluster block ---

# --- operator (api/v1alpha1, internal/operator, config) ---
# `make generate` regenerates, from the kubebuilder markers in the code, the
# deepcopy functions of api/v1alpha1, the CRDs under manifests/crd/bases and the
# operator's ClusterRole in manifests/rbac/role.yaml.
CONTROLLER_GEN ?= $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.20.1

.PHONY: generate

generate:
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=manifests/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=k8s-testrun-operator paths=./internal/operator/... output:rbac:artifacts:config=manifests/rbac
# --- end of operator block ---

# --- benchmarks (bench/) ---
# Targets of this block are owned by bench/. `make bench` runs B1, B1R,
# B2..B7 and F1 (see bench/README.md for each one's method and how long it
# takes on two cores) against the cluster the environment names, or the
# local cluster's env file when KUBECONFIG is unset; prints a table and
# writes it to bench/results/DATE.md. It exits 1 when a target is missed.
# `make bench-real` runs only the real-suite ones (B1R, B6, B7, F1). Flags go in
# BENCH_FLAGS, e.g.
#   make bench BENCH_FLAGS='-b1-p 4'
# and one benchmark runs alone as `go run ./bench/cmd/bench b3`.
BENCH_FLAGS ?=

.PHONY: bench bench-real bench-b8

bench: build
	@if [ -z "$$KUBECONFIG" ] && [ -f $(CLUSTER_ENV) ]; then set -a; . $(CLUSTER_ENV); set +a; fi; \
	$(GO) run ./bench/cmd/bench -binary $(BIN) -results bench/results $(BENCH_FLAGS) all

bench-real: build
	@if [ -z "$$KUBECONFIG" ] && [ -f $(CLUSTER_ENV) ]; then set -a; . $(CLUSTER_ENV); set +a; fi; \
	$(GO) run ./bench/cmd/bench -binary $(BIN) $(BENCH_FLAGS) b1r b6 b7 f1

# `make bench-b8` runs B8 alone (not in `make bench`): 10,000 fake pods on
# 100 kwok nodes at parallelism 500, by a bare creator, the runner, the
# operator and the bare creator with log reads in turn; -b8-n, -b8-p and
# -b8-nodes in BENCH_FLAGS shrink it.
bench-b8: build
	@if [ -z "$$KUBECONFIG" ] && [ -f $(CLUSTER_ENV) ]; then set -a; . $(CLUSTER_ENV); set +a; fi; \
	$(GO) run ./bench/cmd/bench -binary $(BIN) $(BENCH_FLAGS) b8
# --- end of benchmarks block ---

# --- module hygiene and fuzzing ---
# `make tidy-check` fails when `go mod tidy` would change go.mod or go.sum;
# `make test` runs it first. `make fuzz` runs every fuzz target of the
# module (each `func Fuzz...`, found by `go test -list`) for FUZZ_TIME, one
# at a time: 10s each is the smoke .ci/run gives them; the seed corpora are
# each target's f.Add calls and its package's testdata/fuzz.
# `make funclen` prints the ten longest functions of internal/ and fails
# over the limit that hack/funclen holds.
FUZZ_TIME ?= 10s

.PHONY: tidy-check fuzz funclen

tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy and commit the result" >&2; exit 1; }

fuzz:
	@set -eo pipefail; targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ {n[++c] = $$1} /^ok / {for (i = 1; i <= c; i++) print $$2 ":" n[i]; c = 0}'); \
	test -n "$$targets" || { echo "no fuzz targets found" >&2; exit 1; }; \
	for t in $$targets; do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name ($(FUZZ_TIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZ_TIME) $$pkg; \
	done

funclen:
	$(GO) run ./hack/funclen ./internal
# --- end of module hygiene and fuzzing block ---

# --- Docker engine and the action as GitHub runs it (hack/docker, test/action) ---
# `make docker-up` starts dockerd on its own socket (installing Debian's
# docker.io when missing); `make docker-down` stops it and checks that
# nothing of it remains. `make e2e-action` builds the action's image with
# `docker build` and runs it as GitHub's runner runs a container action,
# against the local cluster; it brings dockerd up and, after, down.
DOCKER_DIR ?= /var/lib/k8s-testrun/docker
E2E_ACTION_TIMEOUT ?= 30m

.PHONY: docker-up docker-down docker-status e2e-action

docker-up:
	$(GO) run ./hack/docker up --dir $(DOCKER_DIR)

docker-down:
	$(GO) run ./hack/docker down --dir $(DOCKER_DIR)
	K8S_TESTRUN_DOCKER_DIR=$(DOCKER_DIR) $(GO) test -count=1 -tags dockerteardown ./test/dockerteardown/

docker-status:
	$(GO) run ./hack/docker status --dir $(DOCKER_DIR)

e2e-action:
	@$(MAKE) --no-print-directory docker-up || exit 1; \
	if [ -z "$$KUBECONFIG" ]; then set -a; . $(CLUSTER_ENV); set +a; fi; \
	set -a; . $(DOCKER_DIR)/env; set +a; \
	$(GO) test -count=1 -tags e2eaction -timeout $(E2E_ACTION_TIMEOUT) ./test/action/; \
	status=$$?; \
	$(MAKE) --no-print-directory docker-down || status=1; \
	exit $$status
# --- end of Docker engine block ---

# --- kind cluster built from sources (hack/kind, test/action TestKind*) ---
# `make kind-up` builds kind's base and node images from sources (debootstrap,
# the Kubernetes module, etcd's, CoreDNS's and distribution's modules; cached
# by input digests) and runs `go tool kind create cluster` with kind's
# local-registry recipe, in the engine of hack/docker; `make kind-down`
# deletes it and checks that nothing of it remains. `make e2e-kind` runs the
# action as a workflow with kind does against that cluster, then takes the
# cluster and the engine down.
KIND_DIR ?= /var/lib/k8s-testrun/kind
KIND_FLAGS = --dir $(KIND_DIR)

.PHONY: kind-up kind-down e2e-kind

kind-up: docker-up
	set -a; . $(DOCKER_DIR)/env; set +a; $(GO) run ./hack/kind up $(KIND_FLAGS)

kind-down:
	set -a; . $(DOCKER_DIR)/env; set +a; $(GO) run ./hack/kind down $(KIND_FLAGS) && \
	K8S_TESTRUN_KIND_DIR=$(KIND_DIR) $(GO) test -count=1 -tags kindteardown ./test/kindteardown/

e2e-kind:
	@$(MAKE) --no-print-directory kind-up || { $(MAKE) --no-print-directory kind-down docker-down; exit 1; }; \
	set -a; . $(DOCKER_DIR)/env; set +a; \
	K8S_TESTRUN_KIND_ENV=$(KIND_DIR)/env $(GO) test -count=1 -tags e2eaction -run 'TestKind' -timeout $(E2E_ACTION_TIMEOUT) ./test/action/; \
	status=$$?; \
	$(MAKE) --no-print-directory kind-down || status=1; \
	$(MAKE) --no-print-directory docker-down || status=1; \
	exit $$status
# --- end of kind block ---
