#!/usr/bin/env bash
# Runs the end-to-end suite's environment on a kind cluster, for machines
# with Docker: creates the cluster, installs Flux and the operator with Helm,
# runs the data plane on the host, and registers the cluster.
#
# Usage: test/e2e/kind.sh [CLUSTER_NAME]
# Needs docker, kind, kubectl, helm and flux on PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-arcgitops-e2e}
for tool in docker kind kubectl helm flux; do
	command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

echo "==> Creating kind cluster $name"
kind create cluster --name "$name" --wait 120s
echo "==> Installing Flux (source-, kustomize-, helm- and notification-controller, as Azure's extension does)"
flux install --components=source-controller,kustomize-controller,helm-controller,notification-controller

echo "==> Building and loading the manager image"
make docker-build IMG=fluxconfig-manager:e2e
kind load docker-image fluxconfig-manager:e2e --name "$name"

echo "==> Starting the data plane on the host"
make binaries
host_ip=$(docker network inspect kind -f '{{(index .IPAM.Config 0).Gateway}}')
bin/dataplane --listen "$host_ip:8090" --data-dir ".local/kind-dataplane" &
dp_pid=$!
trap 'kill $dp_pid' EXIT
export ARCGITOPS_DATAPLANE="https://$host_ip:8090"
# The data plane serves HTTPS with a local CA it makes in its data directory.
for _ in $(seq 50); do [ -f .local/kind-dataplane/tls/ca.crt ] && break; sleep 0.2; done
export ARCGITOPS_CA_FILE=.local/kind-dataplane/tls/ca.crt
sleep 2
# Sign in as the owner the data plane made at its first start.
owner=.local/kind-dataplane/owner-credentials.json
cred() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$owner" "$1"; }
bin/arcgitops login --service-principal -u "$(cred appId)" -p "$(cred password)" -o none
bin/arcgitops connectedk8s connect -n "$name" -g kind --agent-token-file .local/kind-agent.token -o none
cluster_id="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/kind/providers/Microsoft.Kubernetes/connectedClusters/$name"

echo "==> Installing the operator with Helm"
helm upgrade --install fluxconfig charts/fluxconfig -n flux-system \
	--set image.repository=fluxconfig-manager --set image.tag=e2e --set image.pullPolicy=Never \
	--set agent.dataplaneURL="$ARCGITOPS_DATAPLANE" --set agent.clusterResourceID="$cluster_id" \
	--set-file agent.caCert="$ARCGITOPS_CA_FILE" \
	--set-file agent.token=.local/kind-agent.token --wait

echo "==> Ready: KUBECONFIG is kind's, ARCGITOPS_DATAPLANE=$ARCGITOPS_DATAPLANE"
echo "    Try: bin/arcgitops k8s-configuration flux create -g kind -c $name -n demo --namespace flux-system -u https://github.com/Azure/gitops-flux2-kustomize-helm-mt --branch main --kustomization name=infra path=./infrastructure"
wait $dp_pid
