# The Makefile is the contract: CI (.ci/run) runs the same targets a developer does.
# Every tool is pinned here and installed into ./bin; the Kubernetes and Flux
# binaries for tests are built from pinned modules into a cache outside the
# repository (hack/envtest.sh, hack/flux.sh). Nothing is installed by hand.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

# Tool versions.
CONTROLLER_GEN_VERSION ?= v0.21.0
GOLANGCI_LINT_VERSION ?= v2.15.0
KUSTOMIZE_VERSION ?= v5.8.1
HELM_VERSION ?= v3.21.4

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
HELM ?= $(LOCALBIN)/helm
KUSTOMIZE ?= $(LOCALBIN)/kustomize

# Packages tested by `make test` (everything but the end-to-end suite).
TEST_PKGS ?= $(shell go list ./... | grep -v /test/e2e)
GO_TEST_FLAGS ?= -race -count=1

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests under config/.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@# The Helm chart ships the same CRD and the same least-privilege rules.
	cp config/crd/bases/*.yaml charts/fluxconfig/crds/
	awk 'f{print} /^rules:/{f=1}' config/rbac/role.yaml > charts/fluxconfig/files/manager-rules.yaml

.PHONY: generate
generate: controller-gen ## Generate the deepcopy code of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run gofmt on the code (rewrites files).
	gofmt -s -w $$(git ls-files '*.go' | grep -v '^hack/tools/')

.PHONY: fmt-check
fmt-check: ## Fail if any Go file is not gofmt'ed (changes nothing).
	@files=$$(gofmt -s -l $$(git ls-files '*.go' | grep -v '^hack/tools/')); \
	if [ -n "$$files" ]; then echo "Not gofmt'ed (run make fmt):"; echo "$$files"; exit 1; fi

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: controller-gen ## Regenerate code, manifests, formatting and go.mod; fail if any file changed.
	hack/verify.sh

.PHONY: ci
ci: lint verify test ## What CI runs (.ci/run): lint, verify, every test, then fail if the tree changed.
	hack/clean-tree.sh

.PHONY: test
test: test-unit test-e2e test-e2e-external-local ## Run every test: unit, envtest integration and end-to-end, the last in both modes (builds what they need on first use; rewrites no file).

.PHONY: test-unit
test-unit: fmt-check vet helm kustomize ## Run the unit and envtest integration tests (builds kube-apiserver and etcd on first use).
	HELM="$(HELM)" KUSTOMIZE="$(KUSTOMIZE)" \
	KUBEBUILDER_ASSETS="$$(hack/envtest.sh)" \
	FLUX_CRDS="$$(hack/flux.sh crds | paste -sd:)" \
	go test $(GO_TEST_FLAGS) $(TEST_PKGS)
	@echo "==> The data plane's handler tests again, with the store on etcd"
	KUBEBUILDER_ASSETS="$$(hack/envtest.sh etcd)" DATAPLANE_STORE=etcd go test $(GO_TEST_FLAGS) ./internal/dataplane

# The environment of the local environment and the end-to-end suite: every
# binary built (or found in the cache) by the project's own scripts.
LOCALENV = KUBEBUILDER_ASSETS="$$(hack/envtest.sh etcd kube-apiserver kube-controller-manager)" \
	FLUX_CRDS="$$(hack/flux.sh crds | paste -sd:)" \
	FLUX_BIN="$$(hack/flux.sh build)" \
	BIN_DIR="$(LOCALBIN)"

.PHONY: test-e2e
test-e2e: binaries helm ## Run the end-to-end suite against real Flux controllers: in the local environment it starts, or with E2E_KUBECONFIG=<file> against that cluster, installing the chart with Helm (E2E_HOST: this machine's address as the cluster reaches it; E2E_IMAGE: the manager image; E2E_RECEIVER_ADDR: notification-controller's receiver as this machine reaches it; test/e2e/kind.sh sets them).
	$(LOCALENV) HELM="$(HELM)" go test -count=1 -timeout 30m -v ./test/e2e/...

E2E_CLUSTER_DIR ?= $(CURDIR)/.local/e2e-cluster

.PHONY: test-e2e-external-local
test-e2e-external-local: binaries helm ## Run the end-to-end suite in external mode against a cluster-only local environment (its own install of the chart, removed after; the Deployment run as a process, there being no kubelets).
	go build -o $(LOCALBIN)/localenv ./hack/localenv
	$(LOCALENV) HELM="$(HELM)" hack/e2e-external-local.sh $(LOCALBIN)/localenv $(E2E_CLUSTER_DIR)

.PHONY: portal-screenshots
portal-screenshots: ## Refresh docs/portal's screenshots with the portal's browser test (installs Chromium when missing).
	PORTAL_SCREENSHOTS="$(CURDIR)/docs/portal" go test -count=1 ./test/portal

.PHONY: vendor-js
vendor-js: ## Re-vendor the portal's script library (htmx and its SSE extension) from the npm registry at the pinned versions (hack/vendor-js.sh).
	hack/vendor-js.sh

.PHONY: fuzz
fuzz: ## Fuzz the ARM body decoder for FUZZTIME (default 5m) with its memory capped (hack/fuzz.sh).
	hack/fuzz.sh

.PHONY: envtest
envtest: ## Build the envtest binaries and print KUBEBUILDER_ASSETS.
	@hack/envtest.sh

BENCH_FLAGS ?=

.PHONY: bench
bench: binaries ## Measure convergence vs a floor, idle writes, memory, status round trip, propagation, data plane capacity, key generation, ARM, policy, Resource Graph, the portal and the hub on etcd; writes docs/benchmarks.md (BENCH_FLAGS=--help lists the knobs).
	KUBEBUILDER_ASSETS="$$(hack/envtest.sh)" FLUX_CRDS="$$(hack/flux.sh crds | paste -sd:)" \
	go run ./test/bench --manager $(LOCALBIN)/manager --dataplane $(LOCALBIN)/dataplane --out docs/benchmarks.md $(BENCH_FLAGS)

##@ Build

.PHONY: build
build: generate fmt vet binaries ## Build the manager, data plane and CLI into bin/.

.PHONY: binaries
binaries: ## Build bin/manager, bin/dataplane and bin/arcgitops.
	go build -o $(LOCALBIN)/manager ./cmd/manager
	go build -o $(LOCALBIN)/dataplane ./cmd/dataplane
	go build -o $(LOCALBIN)/arcgitops ./cmd/arcgitops

.PHONY: run
run: binaries ## Run the local environment: API server, Flux, Git server, data plane, manager, a sample configuration (FLUX_SETTINGS="key=value ..." sets the microsoft.flux extension's settings: docs/flux-settings.md; MANAGER_ARGS="--flag=value ..." adds manager flags, e.g. --memory-limit=1Gi).
	@echo "==> Building (or reusing) kube-apiserver, etcd, kube-controller-manager, kubectl and Flux"
	@hack/envtest.sh kubectl >/dev/null
	go build -o $(LOCALBIN)/localenv ./hack/localenv
	$(LOCALENV) $(LOCALBIN)/localenv $(foreach s,$(FLUX_SETTINGS),-flux-setting=$(s)) $(foreach a,$(MANAGER_ARGS),-manager-arg=$(a))

.PHONY: run-manager
run-manager: manifests generate fmt vet ## Run only the manager against $$KUBECONFIG.
	go run ./cmd/manager

IMG ?= ghcr.io/arcgitops/fluxconfig-manager:latest

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: install-dry-run
install-dry-run: helm kustomize ## Render the Helm charts (the manager's, the hub's) and the Kustomize overlay.
	$(HELM) template fluxconfig charts/fluxconfig -n flux-system --kube-version 1.36.3 --include-crds >/dev/null
	$(HELM) template hub charts/arcgitops-hub -n arcgitops --kube-version 1.36.3 -f test/install/testdata/hub-values.yaml >/dev/null
	$(KUSTOMIZE) build config/default >/dev/null

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN): $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION):
	$(call go-install-tool,$@,sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_GEN_VERSION),controller-gen)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into bin/.
$(GOLANGCI_LINT): $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION):
	$(call go-install-tool,$@,github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION),golangci-lint)

.PHONY: helm
helm: $(HELM) ## Install helm into bin/.
$(HELM): $(LOCALBIN)/helm-$(HELM_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/helm-$(HELM_VERSION):
	$(call go-install-tool,$@,helm.sh/helm/v3/cmd/helm,$(HELM_VERSION),helm)

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into bin/.
$(KUSTOMIZE): $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION):
	$(call go-install-tool,$@,sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION),kustomize)

# go-install-tool installs package $(2) at version $(3), whose binary is
# named $(4), as the file $(1).
define go-install-tool
@mkdir -p $(LOCALBIN)
@echo "==> Installing $(2)@$(3)"
GOBIN=$(LOCALBIN) go install $(2)@$(3)
mv -f $(LOCALBIN)/$(4) $(1)
endef
