#!/usr/bin/env bash
# Runs the end-to-end suite against a kind cluster, in external mode: creates
# the cluster, installs Flux's four controllers at the versions the suite
# pins (hack/tools/flux) with Azure's default multi-tenancy flags, builds the
# manager image and loads it into the cluster, port-forwards
# notification-controller's receiver, and runs `make test-e2e` against the
# cluster; the suite installs the chart with Helm, runs every scenario, and
# removes what it installed (checked). The cluster is deleted afterwards
# unless KEEP_CLUSTER=1.
#
# Usage: test/e2e/kind.sh [CLUSTER_NAME]
# Needs Docker (a running daemon) and network access to ghcr.io and
# github.com; kind (v0.33.0) and kubectl are built into bin/ when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-arcgitops-e2e}
KIND_VERSION=v0.33.0

die() { echo "error: $*" >&2; exit 1; }
command -v docker >/dev/null ||
	die "test/e2e/kind.sh needs Docker, and there is no docker command: install Docker, or run make test-e2e-external-local, which runs the same external mode against a local cluster without Docker"
docker info >/dev/null 2>&1 || die "docker cannot reach its daemon: start Docker (docker info says why)"

mkdir -p bin
kind=bin/kind-$KIND_VERSION
if [ ! -x "$kind" ]; then
	echo "==> Building kind $KIND_VERSION into bin/"
	GOBIN="$PWD/bin/.kind" go install "sigs.k8s.io/kind@$KIND_VERSION" || die "could not build kind $KIND_VERSION"
	mv bin/.kind/kind "$kind" && rmdir bin/.kind
fi
kubectl="$(hack/envtest.sh kubectl)/kubectl"
[ -x "$kubectl" ] || die "hack/envtest.sh kubectl did not build kubectl"

echo "==> Creating kind cluster $name"
"$kind" create cluster --name "$name" --wait 180s
kubeconfig=$PWD/.local/kind-$name.kubeconfig
mkdir -p .local
"$kind" get kubeconfig --name "$name" >"$kubeconfig"
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }
cleanup() {
	[ -n "${pf_pid:-}" ] && kill "$pf_pid" 2>/dev/null || true
	if [ "${KEEP_CLUSTER:-0}" != 1 ]; then "$kind" delete cluster --name "$name"; fi
}
trap cleanup EXIT

echo "==> Installing Flux's controllers (the versions in hack/tools/flux), with the extension's multi-tenancy defaults"
k create namespace flux-system
for c in source-controller kustomize-controller helm-controller notification-controller; do
	v=$(sed -n "s|.*github.com/fluxcd/$c \(v[0-9.]*\).*|\1|p" "hack/tools/flux/$c/go.mod" | head -1)
	[ -n "$v" ] || die "no version of $c in hack/tools/flux/$c/go.mod"
	base=https://github.com/fluxcd/$c/releases/download/$v
	k apply --server-side -f "$base/$c.crds.yaml"
	k -n flux-system create serviceaccount "$c"
	k -n flux-system apply -f "$base/$c.deployment.yaml"
	# A throw-away test cluster: the controllers run as cluster-admin.
	k create clusterrolebinding "$c" --clusterrole=cluster-admin --serviceaccount="flux-system:$c"
done
# Azure's defaults (multiTenancy.enforce=true): internal/fluxsettings.
add_args() {
	local ops="" a
	for a in "${@:2}"; do ops+="{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/args/-\",\"value\":\"$a\"},"; done
	k -n flux-system patch deployment "$1" --type=json -p "[${ops%,}]"
}
add_args kustomize-controller --no-cross-namespace-refs=true --default-service-account=flux-applier
add_args helm-controller --no-cross-namespace-refs=true --default-service-account=flux-applier
add_args notification-controller --no-cross-namespace-refs=true
k -n flux-system rollout status deployment --timeout=300s

echo "==> Building the manager image and loading it into the cluster"
make docker-build IMG=fluxconfig-manager:e2e
"$kind" load docker-image fluxconfig-manager:e2e --name "$name"

# The Git server and the data plane run on this machine; pods reach it at
# the kind network's gateway. The Git server announces pushes to
# notification-controller's receiver through a port-forward.
host_ip=$(docker network inspect kind -f '{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}' | tr ' ' '\n' | grep -m1 '\.')
[ -n "$host_ip" ] || die "no IPv4 gateway on Docker network kind"
k -n flux-system port-forward svc/webhook-receiver 19292:80 >.local/kind-port-forward.log 2>&1 &
pf_pid=$!

echo "==> The end-to-end suite against kind cluster $name (this machine at $host_ip)"
make test-e2e E2E_KUBECONFIG="$kubeconfig" E2E_HOST="$host_ip" E2E_IMAGE=fluxconfig-manager:e2e E2E_RECEIVER_ADDR=127.0.0.1:19292
