#!/usr/bin/env bash
# Runs the end-to-end suite in external mode against a cluster-only local
# environment, as if it were someone else's cluster: `make test` proves the
# external path with it where there is no Docker (the chart's Deployment then
# runs as a process: the environment has no kubelets).
#
# Usage: hack/e2e-external-local.sh LOCALENV_BINARY DIR
# The Makefile sets KUBEBUILDER_ASSETS, FLUX_CRDS, FLUX_BIN, BIN_DIR and HELM.
set -euo pipefail
localenv=$1
dir=$2
mkdir -p "$(dirname "$dir")"
# A cluster.env of an earlier run must not be taken for this one's.
rm -rf "$dir"
log="$dir.log"
echo "==> Starting a cluster-only local environment in $dir (log: $log)"
"$localenv" -cluster-only -dir "$dir" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
	[ -f "$dir/cluster.env" ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "error: the cluster-only environment stopped while starting; its log:" >&2
		tail -n 30 "$log" >&2
		exit 1
	fi
	sleep 1
done
[ -f "$dir/cluster.env" ] || { echo "error: the cluster-only environment was not ready in 10 minutes; see $log" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$dir/cluster.env"
set +a
echo "==> The suite against $E2E_KUBECONFIG, the chart installed with $HELM"
go test -count=1 -timeout 30m -v ./test/e2e/...
