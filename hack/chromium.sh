#!/usr/bin/env bash
# Makes sure a headless Chromium (Debian's chromium package) is installed,
# installing it with apt-get when it is missing (as root; a minute or two),
# and prints the path of its binary.
#
# Usage: hack/chromium.sh
#
# The portal's browser tests (internal/portal/browser_test.go) run it; it
# fails with the reason when Chromium is missing and cannot be installed,
# so that the tests never skip silently.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for name in chromium chromium-browser google-chrome; do
	if path=$(command -v "$name"); then
		printf '%s\n' "$path"
		exit 0
	fi
done
[ "$(id -u)" = 0 ] || die "Chromium is not installed and installing it needs root: run 'sudo apt-get install -y chromium', then the tests again"
command -v apt-get >/dev/null || die "Chromium is not installed and this machine has no apt-get: install Chromium (or Chrome) by other means"
log "Installing chromium with apt-get (a minute or two)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2 || die "apt-get install chromium failed"
command -v chromium || die "chromium is installed but not on PATH"
