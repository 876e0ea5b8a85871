#!/usr/bin/env bash
# Real Flux controllers and CRDs for tests, from the pinned throw-away modules
# in hack/tools/flux/: source-, kustomize-, helm- and notification-controller,
# the controllers Azure's microsoft.flux extension installs by default.
#
# Usage:
#   hack/flux.sh crds   prints the directories that hold the Flux CRDs
#                       (sources, Kustomization, HelmRelease, Provider, Alert,
#                       Receiver), one per line, downloading the modules if
#                       needed
#   hack/flux.sh build  builds the four controllers once per version and
#                       prints the directory that holds them
#
# Idempotent: nothing already in the cache is downloaded or built again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONTROLLERS=(source-controller kustomize-controller helm-controller notification-controller)

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
	for c in "${CONTROLLERS[@]}"; do
		dir=$(module_dir "$ROOT/hack/tools/flux/$c" "github.com/fluxcd/$c")/config/crd/bases
		[ -d "$dir" ] || die "no CRDs in $dir"
		printf '%s\n' "$dir"
	done
	;;
build)
	# Each controller is built once per version into a directory of its
	# own; the set of the four is a directory of links named by them all.
	set_name=""
	for c in "${CONTROLLERS[@]}"; do
		set_name+="$c-$(module_version "$ROOT/hack/tools/flux/$c" "github.com/fluxcd/$c")_"
	done
	DIR=$CACHE/flux/${set_name%_}
	if [ ! -d "$DIR" ]; then
		mkdir -p "$DIR.tmp"
		for c in "${CONTROLLERS[@]}"; do
			mod=$ROOT/hack/tools/flux/$c
			bin=$CACHE/flux/$c-$(module_version "$mod" "github.com/fluxcd/$c")/$c
			[ -x "$bin" ] || go_build_to "$mod" "github.com/fluxcd/$c" "$bin"
			ln -sfn "$bin" "$DIR.tmp/$c"
		done
		rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
	fi
	printf '%s\n' "$DIR"
	;;
*)
	die "usage: hack/flux.sh crds|build"
	;;
esac
