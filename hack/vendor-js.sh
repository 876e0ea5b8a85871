#!/usr/bin/env bash
# Vendors the portal's one script library, htmx and its server-sent events
# extension, from the npm registry into internal/portal/static/vendor/, at
# the pinned versions, checked against the registry's sha512 integrity.
# The files are committed (the portal embeds them: no Node build to run
# it); run this only to change a version, then review the diff.
#
# Usage: hack/vendor-js.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# name version integrity (as the registry's dist.integrity) file-in-package
packages=(
	"htmx.org 2.0.11 sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA== dist/htmx.min.js"
	"htmx-ext-sse 2.2.4 sha512-LJmxVhykyflBWgh5PvbRidcyuqMHlgfajmmzumvKctv9puvsufeH6OaejSMZTNTnEI8O2wXXn4ZZtBdpEMqmEQ== dist/sse.min.js"
)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/internal/portal/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out"
for p in "${packages[@]}"; do
	read -r name version integrity file <<<"$p"
	tgz=$tmp/$name-$version.tgz
	curl -fsSL --retry 3 -o "$tgz" "https://registry.npmjs.org/$name/-/$name-$version.tgz" || die "downloading $name $version from the npm registry failed"
	got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
	[ "$got" = "$integrity" ] || die "$name $version: the tarball's integrity is $got, not the pinned $integrity"
	mkdir -p "$tmp/$name"
	tar xzf "$tgz" -C "$tmp/$name"
	cp "$tmp/$name/package/$file" "$out/$name-$version.min.js"
	cp "$tmp/$name/package/LICENSE" "$out/$name-$version.LICENSE"
	log "Vendored $name $version"
done
