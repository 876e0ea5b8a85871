#!/usr/bin/env bash
# Real Flux controllers and CRDs for tests, from the pinned throw-away modules
# in hack/tools/flux/.
#
# Usage:
#   hack/flux.sh crds   prints the directories that hold the Flux CRDs
#                       (GitRepository, Bucket, OCIRepository, Kustomization),
#                       one per line, downloading the modules if needed
#   hack/flux.sh build  builds source-controller and kustomize-controller once
#                       per version and prints the directory that holds them
#
# Idempotent: nothing already in the cache is downloaded or built again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SC_MOD=$ROOT/hack/tools/flux/source-controller
KC_MOD=$ROOT/hack/tools/flux/kustomize-controller
sc_version=$(module_version "$SC_MOD" github.com/fluxcd/source-controller)
kc_version=$(module_version "$KC_MOD" github.com/fluxcd/kustomize-controller)

# module_dir MODDIR MODULE prints where MODULE's source is in the module cache.
module_dir() {
	local dir
	dir=$(cd "$1" && GOFLAGS=-mod=readonly go mod download -json "$2" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || die "could not download $2 (module $1)"
	printf '%s\n' "$dir"
}

case ${1:-} in
crds)
	for pair in "$SC_MOD github.com/fluxcd/source-controller" "$KC_MOD github.com/fluxcd/kustomize-controller"; do
		# shellcheck disable=SC2086
		dir=$(module_dir $pair)/config/crd/bases
		[ -d "$dir" ] || die "no CRDs in $dir"
		printf '%s\n' "$dir"
	done
	;;
build)
	DIR=$CACHE/flux/source-controller-$sc_version-kustomize-controller-$kc_version
	[ -x "$DIR/source-controller" ] ||
		go_build_to "$SC_MOD" github.com/fluxcd/source-controller "$DIR/source-controller"
	[ -x "$DIR/kustomize-controller" ] ||
		go_build_to "$KC_MOD" github.com/fluxcd/kustomize-controller "$DIR/kustomize-controller"
	printf '%s\n' "$DIR"
	;;
*)
	die "usage: hack/flux.sh crds|build"
	;;
esac
