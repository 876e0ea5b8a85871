# Shared helpers for the hack/ scripts. Source it; do not run it.
#
# Everything the scripts build is cached per version under $ARCGITOPS_CACHE
# (default: ${XDG_CACHE_HOME:-$HOME/.cache}/arcgitops), outside the repository,
# so a second run, or a second clone, reuses it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ARCGITOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arcgitops}

# Progress goes to stderr so that stdout carries only the script's answer.
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# module_version DIR MODULE prints the version of MODULE required by the
# go.mod in DIR (a single-line or block require).
module_version() {
	local v
	v=$(awk -v m="$2" '
		$1 == "require" && $2 == m { print $3; exit }
		$1 == m && $2 ~ /^v/ { print $2; exit }
	' "$1/go.mod")
	[ -n "$v" ] || die "$2 is not required in $1/go.mod"
	printf '%s\n' "$v"
}

# go_build_to MODDIR PACKAGE OUT [LDFLAGS] builds PACKAGE inside the throw-away
# module MODDIR into OUT. It writes to a temporary file first and renames it,
# so an interrupted build never leaves a broken binary in the cache.
go_build_to() {
	local moddir=$1 pkg=$2 out=$3 ldflags=${4:-}
	local start=$SECONDS
	mkdir -p "$(dirname "$out")"
	log "Building $(basename "$out") ($pkg); the first build takes minutes, later ones reuse the cache"
	(cd "$moddir" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") ||
		die "building $pkg failed (module $moddir)"
	mv -f "$out.tmp" "$out"
	log "Built $out in $((SECONDS - start))s"
}
